"""Logging in and out; every attempt is audited."""

from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from minqing.accounts.forms import LoginForm
from minqing.accounts.middleware import public
from minqing.audit.services import audit_record


class LoginView(auth_views.LoginView):
    minqing_public = True
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        audit_record(action="login", user=form.get_user(), request=self.request)
        return response

    def form_invalid(self, form):  # type: ignore[no-untyped-def]
        locked = getattr(form, "locked", False)
        audit_record(
            action="login.locked" if locked else "login",
            request=self.request,
            success=False,
            username=str(form.data.get("username", ""))[:150],
        )
        return super().form_invalid(form)


@public
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit_record(action="logout", user=request.user, request=request)
    logout(request)
    return redirect("accounts:login")
