from django.http import HttpResponse


def search_view(request):
    return HttpResponse("s")


def household_detail(request, pk):
    return HttpResponse("h")
