"""``POST /api/v1/auth/token/``: a bearer token for a username and password (and the
authenticator's code where the account needs one). A login path like the web form: one normal
form of the username, the per-address and per-name limits, the lockout and the audit rows are
those of ``accounts.services`` (docs/SECURITY-BAR.md §3, §16)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from minqing.accounts.services import LoginRefused, api_token_login
from minqing.api import ErrorOut
from minqing.lib.context import AuditContext

router = Router(tags=["auth"])


class TokenIn(Schema):
    username: str = Field(max_length=150)
    password: str = Field(max_length=256)
    #: What the token is for, e.g. the client's name; shown in the token list.
    name: str = Field("", max_length=100)
    #: The authenticator's 6-digit code or a recovery code, for accounts with a second factor.
    otp: str = Field("", max_length=64)


class TokenOut(Schema):
    token: str = Field(description="The bearer token: shown once, only its hash is kept.")
    prefix: str
    expires_at: dt.datetime | None


@router.post(
    "token/",
    auth=None,
    url_name="token_issue",
    response={201: TokenOut, 401: ErrorOut, 403: ErrorOut, 429: ErrorOut},
    summary="Issue a bearer token",
)
def token_issue(request: HttpRequest, payload: TokenIn) -> Status:
    try:
        token, key = api_token_login(
            context=AuditContext.of(request),
            username=payload.username,
            password=payload.password,
            name=payload.name,
            otp=payload.otp,
        )
    except LoginRefused as exc:
        return Status(exc.status, {"detail": exc.message, "code": str(exc.code)})
    return Status(201, {"token": key, "prefix": token.prefix, "expires_at": token.expires_at})
