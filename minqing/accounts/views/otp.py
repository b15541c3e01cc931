"""Second-factor pages: set up an authenticator, enter its code, renew recovery codes.

The enrol and verify pages are reachable before the code is entered (``otp_exempt``); the
recovery codes are shown once, in the answer to the request that made them, never stored.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from minqing.accounts.middleware import AuthedRequest, otp_exempt
from minqing.accounts.services import LOCKOUT_PERIOD, LoginRefused
from minqing.accounts.services import otp as services_otp
from minqing.accounts.services.otp import Outcome
from minqing.lib.context import AuditContext


def qr_svg(text: str, *, module: int = 4, quiet: int = 4) -> SafeString:
    """``text`` as an inline SVG QR code, drawn here: no image service, no CDN."""
    from minqing.lib.qr import qr_modules

    rows = qr_modules(text)
    size = (len(rows) + 2 * quiet) * module
    path = "".join(
        f"M{(quiet + x) * module} {(quiet + y) * module}h{module}v{module}h-{module}z"
        for y, row in enumerate(rows)
        for x, dark in enumerate(row)
        if dark
    )
    return format_html_join(
        "",
        '<svg class="otp-qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {0} {0}" '
        'width="{0}" height="{0}" role="img" aria-label="{1}"><rect width="{0}" height="{0}" '
        'fill="#fff"/><path d="{2}" fill="#000"/></svg>',
        [(size, _("QR code for the authenticator app"), path)],
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("org:home")


def _refused_message(outcome: Outcome) -> str:
    if outcome is Outcome.LOCKED:
        return _("Too many failed attempts. This account is locked for %(minutes)d minutes.") % {
            "minutes": LOCKOUT_PERIOD.seconds // 60
        }
    return ""


def _codes_page(request: HttpRequest, codes: list[str], *, next_url: str) -> HttpResponse:
    response = render(request, "accounts/otp_codes.html", {"codes": codes, "next": next_url})
    response["Cache-Control"] = "no-store"
    return response


@otp_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def otp_enrol(request: AuthedRequest) -> HttpResponse:
    """设置两步验证: scan the QR code (or type the key), then enter the first code."""
    user = request.user
    if services_otp.confirmed_device(user) is not None:
        if services_otp.session_state(request) == services_otp.PENDING:
            return redirect(reverse("accounts:otp_verify") + "?" + request.GET.urlencode())
        return redirect("accounts:otp_settings")
    device = services_otp.otp_enrol_start(user=user)
    error = ""
    code = ""
    if request.method == "POST":
        code = request.POST.get("code", "")[:20]
        try:
            outcome, codes = services_otp.otp_enrol_confirm(
                user=user, code=code, context=AuditContext.of(request)
            )
        except LoginRefused as exc:
            outcome, codes, refused = Outcome.LOCKED, [], exc.message
        else:
            refused = ""
        if outcome is Outcome.OK:
            services_otp.mark_verified(request)
            return _codes_page(request, codes, next_url=_next(request))
        error = (
            refused
            or _refused_message(outcome)
            or _("The code is not right. Check the phone's time and enter the newest code.")
        )
    secret = device.secret.reveal()
    uri = services_otp.provisioning_uri(device)
    return render(
        request,
        "accounts/otp_enrol.html",
        {
            "qr": qr_svg(uri),
            "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "uri": uri,
            "error": error,
            "code": code,
            "next": request.POST.get("next") or request.GET.get("next", ""),
            "required": services_otp.required_by_role(user),
        },
        status=400 if error else 200,
    )


@otp_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def otp_verify(request: AuthedRequest) -> HttpResponse:
    """两步验证: the code from the authenticator app, or a recovery code."""
    user = request.user
    if services_otp.session_state(request) != services_otp.PENDING:
        return redirect(_next(request))
    if services_otp.confirmed_device(user) is None:
        return redirect(reverse("accounts:otp_enrol") + "?" + request.GET.urlencode())
    error = ""
    if request.method == "POST":
        try:
            outcome = services_otp.otp_verify(
                user=user, code=request.POST.get("code", "")[:40], context=AuditContext.of(request)
            )
        except LoginRefused as exc:
            outcome, refused = Outcome.LOCKED, exc.message
        else:
            refused = ""
        if outcome in (Outcome.OK, Outcome.RECOVERY_CODE):
            services_otp.mark_verified(request)
            if outcome is Outcome.RECOVERY_CODE:
                messages.warning(
                    request,
                    _(
                        "You logged in with a recovery code; %(left)d are left. Set up new "
                        "codes on the two-step verification page."
                    )
                    % {"left": services_otp.recovery_codes_left(user)},
                )
            return redirect(_next(request))
        error = (
            refused
            or _refused_message(outcome)
            or _("The code is not right, or it was already used. Enter the newest code.")
        )
    return render(
        request,
        "accounts/otp_verify.html",
        {"error": error, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=400 if error else 200,
    )


@never_cache
def otp_settings(request: AuthedRequest) -> HttpResponse:
    """两步验证 settings: whether an authenticator is set up, how many recovery codes are left."""
    user = request.user
    device = services_otp.confirmed_device(user)
    return render(
        request,
        "accounts/otp_settings.html",
        {
            "device": device,
            "left": services_otp.recovery_codes_left(user) if device else 0,
            "required": services_otp.required_by_role(user),
        },
    )


@require_POST
def otp_recovery_codes(request: AuthedRequest) -> HttpResponse:
    """Ten new recovery codes, shown once; the old ones stop working."""
    try:
        codes = services_otp.recovery_codes_renew(
            user=request.user, context=AuditContext.of(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("accounts:otp_settings")
    return _codes_page(request, codes, next_url=reverse("accounts:otp_settings"))
