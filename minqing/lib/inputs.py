"""Input no field can hold, refused in one place before any view reads it (docs/SECURITY-BAR.md
§15).

``InputGuardMiddleware`` looks at every request's path, query, form fields and JSON body once:

- a NUL character (U+0000) in any text: PostgreSQL cannot store one (the driver raises, a 500)
  and SQLite stores it silently, cutting the text short in every C-string consumer;
- a lone UTF-16 surrogate (``"\\ud800"`` in JSON): no database or UTF-8 encoder accepts it;
- an integer outside 64 bits in a query parameter or a JSON number: the database's ``bigint``
  and SQLite's INTEGER end at 2⁶³−1 (OFFSET, LIMIT and arithmetic fail on the driver's side).

Each answers 400 with one sentence naming the parameter: JSON ``{"detail", "errors"}`` (the API's
``FieldErrorsOut``) under /api/ or for a JSON body, else the bad-input page. The view never
runs, so nothing is written. Form text with long digit strings (a bank card number in a note) is
text, not a number: only query values and JSON numbers are range-checked.

``LimitedUploadHandler`` stops storing an uploaded file once it passes its field's limit
(``MINQING_UPLOAD_LIMITS``, else the largest of them): the view sees a ``TooLargeUpload`` with the
size received so far, and ``read_upload`` refuses it before a byte is read into memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from minqing.lib.errors import ErrorCode

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: JSON nested deeper than this is no form anyone fills in (and Python's parser recurses).
MAX_JSON_DEPTH = 32
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadInput(Exception):
    """One parameter that cannot be accepted; ``message`` says why, for the user."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_text(field: str, value: str) -> None:
    """Raise ``BadInput`` for a NUL or a lone surrogate in ``value``."""
    if "\x00" in value:
        raise BadInput(
            field,
            _(
                "“%(field)s” contains a NUL character (U+0000), which cannot be saved. "
                "Remove it and send again."
            )
            % {"field": field},
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(
            field,
            _(
                "“%(field)s” contains an invalid character (a lone UTF-16 surrogate). "
                "Remove it and send again."
            )
            % {"field": field},
        ) from None


def _out_of_range(field: str) -> BadInput:
    return BadInput(
        field,
        _("“%(field)s” is out of range: numbers here lie between %(min)d and %(max)d.")
        % {"field": field, "min": INT64_MIN, "max": INT64_MAX},
    )


def check_integer_text(field: str, value: str) -> None:
    """A query value that reads as a whole number (as ``int()`` reads it: signs, underscores,
    any script's digits) must fit in 64 bits."""
    digits = value.strip().lstrip("+-").replace("_", "")
    if not digits.isdecimal():
        return
    if len(digits) > 19:
        raise _out_of_range(field)
    try:
        number = int(value)
    except ValueError:
        return  # "1__2", "+-1": not a number, so the field's own validation answers
    if not INT64_MIN <= number <= INT64_MAX:
        raise _out_of_range(field)


def _walk_json(value: Any) -> Iterator[tuple[str, Any]]:
    """(dotted path, leaf) for every key and leaf of a parsed JSON document, depth-bounded."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadInput(path or "body", _("The JSON body is nested too deeply."))
        if isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                yield name, key
                stack.append((name, child, depth + 1))
        elif isinstance(item, list):
            for i, child in enumerate(item):
                stack.append((f"{path}[{i}]", child, depth + 1))
        else:
            yield path or "body", item


def check_json(body: bytes) -> None:
    """Every string (keys too) and every integer of a JSON body; a body that does not parse
    is left to the view, which answers its own 400."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise BadInput("body", _("The JSON body is nested too deeply.")) from None
    except ValueError:
        return
    for field, leaf in _walk_json(document):
        if isinstance(leaf, str):
            check_text(field, leaf)
        elif isinstance(leaf, int) and not isinstance(leaf, bool):
            if not INT64_MIN <= leaf <= INT64_MAX:
                raise _out_of_range(field)


def check_request(request: HttpRequest) -> None:
    """Raise ``BadInput`` for the first parameter of the request no field can hold."""
    check_text(_("the address"), request.path_info)
    for key, values in request.GET.lists():
        check_text(key, key)
        for value in values:
            check_text(key, value)
            check_integer_text(key, value)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    content_type = request.content_type or ""
    if content_type in _FORM_TYPES:
        if _is_api(request):
            # Keep the body readable for the API, which parses it itself: once a multipart
            # form is read from the stream, request.body raises (a 500, not a 4xx).
            request.body  # noqa: B018
        try:
            form = request.POST
        except MultiPartParserError:
            raise BadInput("body", _("The form data is malformed; send the form again.")) from None
        for key, values in form.lists():
            check_text(key, key)
            for value in values:
                check_text(key, value)
    elif content_type == "application/json" or content_type.endswith("+json") or _is_api(request):
        if request.body:
            check_json(request.body)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def refusal(request: HttpRequest, problem: BadInput) -> HttpResponse:
    """400: JSON in the API's ``FieldErrorsOut`` shape, else the page that says what to fix."""
    if _is_api(request) or request.content_type == "application/json":
        return JsonResponse(
            {
                "detail": problem.message,
                "code": ErrorCode.INVALID,
                "errors": {problem.field: [problem.message]},
                "codes": {problem.field: [ErrorCode.INVALID]},
            },
            status=400,
        )
    return render(request, "bad_input.html", {"message": problem.message}, status=400)


class InputGuardMiddleware:
    """After the session, locale and user are known (the answer is in the reader's language,
    in the site's frame), before any view or form reads the input."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            check_request(request)
        except BadInput as problem:
            return refusal(request, problem)
        return self.get_response(request)


# --- uploads --------------------------------------------------------------------------------


class TooLargeUpload(UploadedFile):
    """What the view gets for a file cut off at its limit: the size received, no content."""

    too_large = True

    def __init__(self, name: str, field_name: str, size: int, limit: int) -> None:
        import io

        super().__init__(io.BytesIO(), name=name, content_type=None, size=size)
        self.field_name = field_name
        self.limit = limit


def upload_limit(field_name: str | None) -> int:
    """Bytes one file of this form field may have (``MINQING_UPLOAD_LIMITS``)."""
    limits: dict[str, int] = settings.MINQING_UPLOAD_LIMITS
    return limits.get(field_name or "", max(limits.values()))


class LimitedUploadHandler(FileUploadHandler):
    """First of ``FILE_UPLOAD_HANDLERS``: counts each file's bytes as they arrive and, past its
    field's limit, hands no more to the memory/disk handlers behind it (the rest of the request
    is still read, so the form's other fields and their typed text survive)."""

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received = 0
        self.limit = upload_limit(field_name)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        return None if self.received > self.limit else raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.received > self.limit:
            return TooLargeUpload(self.file_name or "", self.field_name, self.received, self.limit)
        return None  # the next handler's file


def upload_too_large_message(limit: int) -> str:
    return _("The file may be at most %(size)s.") % {"size": filesizeformat(limit)}


def read_upload(upload: Any, limit: int, *, field: str = "file", message: str = "") -> bytes:
    """The upload's bytes, after checking its size (``ValidationError`` on ``field``): a file
    over ``limit`` is never read into memory."""
    if getattr(upload, "too_large", False) or (upload.size or 0) > limit:
        raise ValidationError({field: message or upload_too_large_message(limit)})
    data: bytes = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError({field: message or upload_too_large_message(limit)})
    return data
