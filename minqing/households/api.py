from django.http import JsonResponse


def household_detail(request, pk):
    return JsonResponse({})
