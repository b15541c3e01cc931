"""The second-factor wall (SECURITY.md 5): password alone reaches no protected view.

A session whose user needs the second factor (``services_otp``) and has not entered a code
reaches only the views marked ``otp_exempt`` (enrol, verify), logout and the public pages; every
other page sends it to the code page, and the JSON API answers 403. Bearer tokens are not
stopped here: a token is issued from a page behind this wall or by the server's operator.

It sits before ``PasswordExpiryMiddleware``, so an expired password is changed after the code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode

from minqing.accounts import services_otp


def otp_exempt(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as reachable before the second factor (the enrol and verify pages)."""
    view.minqing_otp_exempt = True  # type: ignore[attr-defined]
    return view


def _open_before_second_factor(request: HttpRequest) -> bool:
    if request.path.startswith(f"/{settings.STATIC_URL.strip('/')}/"):
        return True
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return True  # a 404 shows nothing
    func = match.func
    target = getattr(func, "view_class", func)
    return any(
        getattr(obj, attr, False)
        for obj in (func, target)
        for attr in ("minqing_otp_exempt", "minqing_public")
    )


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and services_otp.session_state(request) == services_otp.PENDING
            and not _open_before_second_factor(request)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Second factor required: enter the code on the web page first."},
                    status=403,
                )
            target = reverse("accounts:otp_verify")
            if request.method == "GET":
                target += "?" + urlencode({"next": request.get_full_path()})
            return redirect(target)
        return self.get_response(request)
