from django.http import HttpResponse


def home(request):
    return HttpResponse("home")


def node_detail(request, pk):
    return HttpResponse("node")
