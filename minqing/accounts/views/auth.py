"""Logging in and out; every attempt is audited."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from minqing.accounts.forms import LoginForm
from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.services import login_failed, normalise_username, password_changed
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.lib.access import public
from minqing.lib.context import AuditContext


class LoginView(auth_views.LoginView):
    minqing_public = True
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        audit_record(
            action=AuditAction.LOGIN, user=form.get_user(), context=AuditContext.of(self.request)
        )
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        assert isinstance(form, LoginForm)  # authentication_form
        response = super().form_invalid(form)
        if form.refusal is not None:  # locked or rate limited: audited by login_guard
            if form.refusal.status == 429:
                response.status_code = 429
            return response
        username = form.cleaned_data.get("username")
        if username is None:  # a field was missing or invalid: normalise what was typed
            username = normalise_username(str(form.data.get("username", "")))
        login_failed(AuditContext.of(self.request), username[:150], via="web")
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password; audited. Reached from the menu, or forced on expiry."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("org:home")

    request: AuthedRequest

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        password_changed(user=self.request.user, context=AuditContext.of(self.request))
        messages.success(self.request, _("Password changed."))
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["expired"] = self.request.user.password_expired(
            settings.MINQING_PASSWORD_EXPIRY_DAYS
        )
        return context


@public
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit_record(action=AuditAction.LOGOUT, user=request.user, context=AuditContext.of(request))
    logout(request)
    response = redirect("accounts:login")
    # What the browser keeps of the session goes with it (a shared phone keeps nothing): the HTTP
    # cache always; the phone's storage (kept pages, the visit outbox and its key) when phone.js has
    # checked that no visit recorded here is still unsent — those are never destroyed unasked.
    cleared = request.POST.get("phone") == "cleared"
    response["Clear-Site-Data"] = '"cache", "storage"' if cleared else '"cache"'
    return response
