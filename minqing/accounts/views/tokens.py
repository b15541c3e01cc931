"""API tokens on the web (each can be revoked): everyone sees and revokes their own and may make
one (its secret shown once); the security administrator sees and revokes everybody's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.models import ApiToken, Role, User
from minqing.accounts.scope import scope_for
from minqing.accounts.services import api_token_issue, api_token_revoke, normalise_username
from minqing.lib.context import AuditContext


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("What it is for"), max_length=100, required=False)
    expires_days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"), min_value=1, max_value=366, initial=90
    )


def _is_security_admin(user: User) -> bool:
    return Role.SECURITY_ADMIN in scope_for(user).roles


def _rows(tokens: Any) -> Iterator[Any]:
    now = timezone.now()
    for token in tokens:
        if token.revoked_at is not None:
            state = _("revoked")
        elif token.expires_at is not None and token.expires_at <= now:
            state = _("expired")
        elif not token.user.is_active:
            state = _("account disabled")
        else:
            state = ""
        yield {"token": token, "state": state, "live": not state}


@require_http_methods(["GET", "POST"])
def tokens(request: AuthedRequest) -> HttpResponse:
    """My tokens; a new one is made here and its secret shown once."""
    form = TokenForm(request.POST or None)
    secret = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                _token, secret = api_token_issue(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    expires_days=form.cleaned_data["expires_days"],
                    by=request.user,
                    context=AuditContext.of(request),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
                status = 400
            else:
                form = TokenForm()
        else:
            status = 400
    mine = ApiToken.objects.filter(user=request.user).select_related("user")
    return render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "secret": secret,
            "rows": list(_rows(mine.order_by("-created_at")[:100])),
            "admin": _is_security_admin(request.user),
        },
        status=status,
    )


@require_http_methods(["GET"])
def tokens_all(request: AuthedRequest) -> HttpResponse:
    """Every account's tokens, for the security administrator (filter by username)."""
    if not _is_security_admin(request.user):
        raise PermissionDenied(_("Only the security administrator sees every account's tokens."))
    who = normalise_username(request.GET.get("user", ""))[:150]
    everyone = ApiToken.objects.select_related("user").order_by("-created_at")
    if who:
        everyone = everyone.filter(user__username=who)
    if request.GET.get("live"):
        everyone = everyone.filter(revoked_at__isnull=True)
    return render(
        request,
        "accounts/tokens_all.html",
        {"rows": list(_rows(everyone[:200])), "who": who, "live": bool(request.GET.get("live"))},
    )


@require_POST
def token_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    """Revoke one token: its owner or the security administrator."""
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
    admin = _is_security_admin(request.user)
    if token.user_id != request.user.pk and not admin:
        raise Http404
    api_token_revoke(token=token, by=request.user, context=AuditContext.of(request))
    messages.success(request, _("Token %(prefix)s… revoked.") % {"prefix": token.prefix})
    if token.user_id != request.user.pk:
        return redirect("accounts:tokens_all")
    return redirect("accounts:tokens")
