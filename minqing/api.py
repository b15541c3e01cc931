"""The JSON API under /api/v1/: one NinjaAPI, one ``Router`` per app, OpenAPI at openapi.json.

Adding an app's endpoints is one line in ``ROUTERS``. Every operation needs a user (deny by
default, docs/SECURITY-BAR.md §6): a bearer token from ``minqing api_token`` or the web session
(with the CSRF token on unsafe methods). Every refusal answers JSON ``{"detail": …}``; the handlers
below turn the services' exceptions into HTTP answers for every router alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from minqing.accounts.services import BearerRefused, bearer_authenticate
from minqing.lib import ratelimit
from minqing.lib.access import public
from minqing.lib.context import AuditContext
from minqing.lib.errors import (
    ErrorCode,
    InvalidTransition,
    PermissionDenied,
    StaleEdit,
    all_codes,
    codes_by_field,
    first_code,
)

#: (URL prefix under /api/v1/, dotted path of an app's ``Router``), matched in this order.
ROUTERS: list[tuple[str, str]] = [
    ("", "minqing.households.api.router"),
    ("issues/", "minqing.issues.api.router"),
    ("visits/", "minqing.visits.api.router"),
    ("menus/", "minqing.menus.api.router"),
    ("auth/", "minqing.accounts.api.router"),
]


class ErrorOut(Schema):
    """A refusal: 401, 403, 404, 409, 429, or 400 for a body that is not JSON. ``code`` is a
    stable machine code (the schema lists them all); ``detail`` is in the reader's language."""

    detail: str
    code: str


class FieldErrorsOut(Schema):
    """Invalid input (400): one sentence, the messages per field (``__all__``: no field) and,
    parallel to them, their codes; ``code`` is the first of them."""

    detail: str
    code: str
    errors: dict[str, list[str]]
    codes: dict[str, list[str]]


class ConflictOut(Schema):
    """409: an edit based on an old version, or a step the record's state does not allow."""

    detail: str
    code: str
    errors: dict[str, list[str]] | None = None
    codes: dict[str, list[str]] | None = None


#: The code of an answer no service gave one (ninja's own refusals), by HTTP status.
_STATUS_CODES: dict[int, str] = {
    400: ErrorCode.INVALID,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.INVALID_TRANSITION,
    429: ErrorCode.RATE_LIMITED,
    500: ErrorCode.SERVER_ERROR,
}


_ERROR_SCHEMAS: dict[int, type[Schema]] = {
    400: FieldErrorsOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ConflictOut,
}


#: What any operation may answer: bad input (its parameters, or a NUL, a lone surrogate or a
#: number past 64 bits refused by minqing.lib.inputs) and no credentials. The OpenAPI schema
#: lists them on every operation (``MinqingAPI``; schemathesis checks every answer is listed).
DEFAULT_ERRORS: dict[int, type[Schema]] = {400: FieldErrorsOut, 401: ErrorOut}


def error_responses(*codes: int) -> dict[int, type[Schema]]:
    """Error answers for an operation's ``response=``: 400 and 401 always, plus ``codes``.

    ``@router.get("x/{pk}/", response={200: XOut, **error_responses(404)})``
    """
    return {**DEFAULT_ERRORS, **{code: _ERROR_SCHEMAS.get(code, ErrorOut) for code in codes}}


class BearerTokenAuth(HttpBearer):
    """``Authorization: Bearer mq_…``; a token that does not work is a 401 at once (no fallback
    to the session), and the token's user becomes ``request.user`` for the services and audit.

    Failed tokens are audited and limited per client address (429 past the limit), and a
    working token of a user whose password expired is a 403 (``services.bearer_authenticate``).
    """

    def __call__(self, request: HttpRequest) -> Any:
        # HttpBearer.__call__ logs unexpected headers in DEBUG; never log a credential.
        scheme, _sep, key = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != self.openapi_scheme:
            return None
        return self.authenticate(request, key.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        try:
            api_token = bearer_authenticate(AuditContext.of(request), token)
        except ratelimit.RateLimited as exc:
            raise HttpError(429, exc.message) from None
        except BearerRefused as exc:
            raise HttpError(403, str(exc)) from None
        if api_token is None:
            raise AuthenticationError
        request.user = api_token.user
        request.api_token = api_token  # type: ignore[attr-defined]
        return api_token.user


class SessionAuth(APIKeyCookie):
    """The web session, as the pages use it; unsafe methods need the CSRF token there too."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None  # nobody to protect from CSRF: the answer is the 401
        return super().__call__(request)

    def _get_key(self, request: HttpRequest) -> str | None:
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise HttpError(
                403, _("CSRF check failed: send the X-CSRFToken header or use a bearer token.")
            )
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return request.user


#: What every operation accepts unless it says otherwise (``auth=None`` makes one public).
API_AUTH = [BearerTokenAuth(), SessionAuth()]


def _openapi_auth(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The schema lists no data, but deny-by-default holds for it too: same auth as the API."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        for auth in API_AUTH:
            try:
                if auth(request):
                    return view(request, *args, **kwargs)
            except Exception as exc:
                return api.on_exception(request, exc)
        return api.on_exception(request, AuthenticationError())

    return wrapper


class MinqingAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Every operation documents ``DEFAULT_ERRORS`` (error answers are made by the exception
        handlers, not validated against ``response=``, so only the schema needs them)."""
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in DEFAULT_ERRORS.values():
            components.setdefault(model.__name__, model.model_json_schema())
        codes = all_codes()
        for model in _ERROR_SCHEMAS.values():
            properties = components.get(model.__name__, {}).get("properties", {})
            if "code" in properties:
                properties["code"] = {
                    "title": "Code",
                    "type": "string",
                    "enum": codes,
                    "description": "A stable machine code (minqing.lib.errors.ErrorCode and "
                    "each app's errors.py); the text in detail is for people.",
                }
            if "codes" in properties:
                properties["codes"] = {
                    "title": "Codes",
                    "type": "object",
                    "additionalProperties": {
                        "type": "array",
                        "items": {"type": "string", "enum": codes},
                    },
                    **({"nullable": True} if model is ConflictOut else {}),
                }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, model in DEFAULT_ERRORS.items():
                    responses.setdefault(
                        status,
                        {
                            "description": "Bad input" if status == 400 else "Unauthorized",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                                }
                            },
                        },
                    )
        return schema


api = MinqingAPI(
    title="Minqing API",
    version="1",
    description=(
        "民情 JSON API. Authenticate with `Authorization: Bearer <token>` (issued by "
        "`minqing api_token USERNAME`) or the web session plus the X-CSRFToken header. "
        "Personal data is masked; out-of-scope objects answer 404 exactly like missing ones."
    ),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url=None,  # ninja's docs page loads Swagger from a CDN: nothing external at run time
    docs_decorator=_openapi_auth,
    auth=API_AUTH,
)


def _answer(
    request: HttpRequest, status: int, detail: str, code: str | None = None, **extra: Any
) -> HttpResponse:
    if "errors" in extra and "codes" not in extra:
        extra["codes"] = {
            field: [str(code or _STATUS_CODES.get(status, ErrorCode.INVALID))] * len(messages)
            for field, messages in extra["errors"].items()
        }
    body = {"detail": detail, "code": str(code or _STATUS_CODES.get(status, ErrorCode.INVALID))}
    response = api.create_response(request, {**body, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = "Bearer"
    return response


#: pydantic's error types → our messages (Django's own wording, so the catalogue has them).
_PARAM_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda ctx: _("This field is required."),
    "int_parsing": lambda ctx: _("Enter a whole number."),
    "int_type": lambda ctx: _("Enter a whole number."),
    "int_from_float": lambda ctx: _("Enter a whole number."),
    "bool_parsing": lambda ctx: _("Enter true or false."),
    "bool_type": lambda ctx: _("Enter true or false."),
    "greater_than_equal": lambda ctx: (
        _("Ensure this value is greater than or equal to %(n)s.") % {"n": ctx.get("ge")}
    ),
    "greater_than": lambda ctx: (
        _("Ensure this value is greater than %(n)s.") % {"n": ctx.get("gt")}
    ),
    "less_than_equal": lambda ctx: (
        _("Ensure this value is less than or equal to %(n)s.") % {"n": ctx.get("le")}
    ),
    "less_than": lambda ctx: _("Ensure this value is less than %(n)s.") % {"n": ctx.get("lt")},
    "uuid_parsing": lambda ctx: _("Enter a valid UUID."),
    "uuid_type": lambda ctx: _("Enter a valid UUID."),
    "date_parsing": lambda ctx: _("Enter a valid date."),
    "date_from_datetime_parsing": lambda ctx: _("Enter a valid date."),
    "datetime_parsing": lambda ctx: _("Enter a valid date/time."),
    "datetime_from_date_parsing": lambda ctx: _("Enter a valid date/time."),
    "enum": lambda ctx: _("Select a valid choice."),
    "literal_error": lambda ctx: _("Select a valid choice."),
    "string_type": lambda ctx: _("Enter text."),
    "string_too_long": lambda ctx: (
        _("Ensure this value has at most %(n)s characters.") % {"n": ctx.get("max_length")}
    ),
    "string_too_short": lambda ctx: (
        _("Ensure this value has at least %(n)s characters.") % {"n": ctx.get("min_length")}
    ),
    "json_invalid": lambda ctx: _("The body is not valid JSON."),
}


def _param_field(loc: tuple[Any, ...] | list[Any], request: HttpRequest) -> str:
    """The parameter as the client wrote it: ``("body", "payload", "notes")`` → ``notes``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "form", "header", "cookie"):
        kind, parts = parts[0], parts[1:]
        # a body schema is one argument of the view: its name is not in the client's JSON
        if kind in ("body", "form") and len(parts) > 1:
            parts = parts[1:]
    return ".".join(parts) or NON_FIELD_ERRORS


@api.exception_handler(NinjaValidationError)
def _invalid_params(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    """ninja's 422 becomes the documented 400 ``FieldErrorsOut``, in the reader's language."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        message = _PARAM_MESSAGES.get(error.get("type", ""))
        text = message(error.get("ctx") or {}) if message else _("This value is not valid.")
        errors.setdefault(_param_field(error.get("loc", ()), request), []).append(text)
    return _answer(request, 400, _("Check the values sent."), ErrorCode.INVALID, errors=errors)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja's own refusals; its 400 (a body that is not JSON) in the documented 400 shape."""
    if exc.status_code != 400:
        return _answer(request, exc.status_code, str(exc.message))
    bad_json = str(exc.message).startswith("Cannot parse request body")
    message = _("The body is not valid JSON.") if bad_json else str(exc.message)
    code = ErrorCode.BAD_JSON if bad_json else ErrorCode.INVALID
    return _answer(request, 400, message, code, errors={NON_FIELD_ERRORS: [message]})


def not_found(request: HttpRequest) -> HttpResponse:
    """The 404 of every unknown address under /api/ (Django's handler404 asks here first)."""
    return _answer(request, 404, _("Not found."))


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 under /api/, in JSON like every other answer there."""
    return _answer(request, 500, _("Server error. The administrators have been told."))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _answer(request, 401, _("Authentication required."))


@api.exception_handler(DjangoValidationError)
def _invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    # A step the record's state does not allow is a conflict, not bad input.
    status = 409 if isinstance(exc, InvalidTransition) else 400
    return _answer(
        request,
        status,
        " ".join(exc.messages),
        first_code(exc),
        errors=errors,
        codes=codes_by_field(exc),
    )


@api.exception_handler(PermissionDenied)
@api.exception_handler(DjangoPermissionDenied)
def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _answer(request, 403, str(exc) or _("You may not do this."), getattr(exc, "code", None))


@api.exception_handler(StaleEdit)
def _stale(request: HttpRequest, exc: StaleEdit) -> HttpResponse:
    return _answer(request, 409, str(exc) or str(StaleEdit.message), ErrorCode.STALE_EDIT)


@api.exception_handler(Http404)
@api.exception_handler(ObjectDoesNotExist)
def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    # One fixed body: out of scope must read exactly like missing (docs/SECURITY-BAR.md §7).
    return _answer(request, 404, _("Not found."))


@api.exception_handler(ratelimit.RateLimited)
def _rate_limited(request: HttpRequest, exc: ratelimit.RateLimited) -> HttpResponse:
    # Search, exports and cards count in their services; the API answers like the pages: 429.
    response = _answer(request, 429, exc.message)
    response["Retry-After"] = str(exc.retry_after)
    return response


@functools.cache
def urls() -> tuple[list[Any], str, str]:
    """``path("api/v1/", urls())``: mounts ``ROUTERS`` and hands the patterns to Django.

    LoginRequiredMiddleware would turn a bearer-token request away (it has no session), so the
    API's views are marked public there and ninja's ``auth`` decides instead; only the unused
    api-root pattern stays behind the middleware.
    """
    for prefix, router in ROUTERS:
        api.add_router(prefix, router)
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and pattern.name != "api-root":
            public(pattern.callback)
    return patterns, app_name, namespace
