from django.contrib.auth import views as auth_views
from django.contrib.auth import logout
from django.shortcuts import redirect

from minqing.accounts.middleware import public


@public
def logout_view(request):
    logout(request)
    return redirect("accounts:login")


class LoginView(auth_views.LoginView):
    minqing_public = True
