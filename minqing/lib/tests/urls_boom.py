"""The site's URLs plus a public view that fails, for the 500 page's tests."""

from django.urls import path

from minqing.lib.access import public
from minqing.urls import handler403, handler404, handler500
from minqing.urls import urlpatterns as site


@public
def boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", boom), *site]
__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]
