"""Uploads are counted while they arrive (minqing.lib.inputs.LimitedUploadHandler): a 400 MB
"photo" took a worker to 519 MB because it was read whole before its size was checked."""

from __future__ import annotations

import io
import tracemalloc

from django.core.handlers.wsgi import WSGIRequest

from minqing.lib.inputs import TooLargeUpload, read_upload

BOUNDARY = "minqingBoundary"
MB = 1 << 20


class _Body(io.RawIOBase):
    """A multipart body of ``size`` zero bytes in the photo field, made as it is read."""

    def __init__(self, size: int) -> None:
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; '
            f'filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode() + b"\xff\xd8\xff"
        self.tail = (
            f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
            f"typed after the photo\r\n--{BOUNDARY}--\r\n"
        ).encode()
        self.size = size
        self.length = len(self.head) + size + len(self.tail)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buffer), self.length - self.pos)
        out = bytearray(n)  # the zeros between head and tail
        head_end, tail_start = len(self.head), len(self.head) + self.size
        if self.pos < head_end:
            k = min(n, head_end - self.pos)
            out[:k] = self.head[self.pos : self.pos + k]
        if self.pos + n > tail_start:
            first = max(self.pos, tail_start)
            out[first - self.pos :] = self.tail[first - tail_start : self.pos + n - tail_start]
        buffer[:n] = out
        self.pos += n
        return n


def _request(size: int) -> WSGIRequest:
    body = _Body(size)
    return WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/issues/1/photos/",
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            "CONTENT_LENGTH": str(body.length),
            "wsgi.input": io.BufferedReader(body),
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
        }
    )


def test_a_400_mb_photo_is_cut_off_at_its_limit_while_it_arrives(settings):
    settings.MINQING_UPLOAD_LIMITS = {"file": 20 * MB, "photo": 8 * MB}
    request = _request(400 * MB)
    tracemalloc.start()
    try:
        files, post = request.FILES, request.POST
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    photo = files["photo"]
    assert isinstance(photo, TooLargeUpload)
    assert photo.size == 400 * MB + 3  # counted to the end, stored only to the limit
    assert peak < 4 * MB  # chunks pass through; nothing of the 400 MB is kept
    assert post["note"] == "typed after the photo"  # the rest of the form is still read
    refused = None
    try:
        read_upload(photo, 8 * MB, field="photo")
    except Exception as exc:  # noqa: BLE001
        refused = exc
    assert refused is not None and refused.message_dict == {  # type: ignore[attr-defined]
        "photo": ["The file may be at most 8.0\xa0MB."]
    }


def test_a_photo_within_its_limit_arrives_whole(settings):
    settings.MINQING_UPLOAD_LIMITS = {"file": 20 * MB, "photo": 8 * MB}
    photo = _request(MB).FILES["photo"]
    assert not isinstance(photo, TooLargeUpload)
    assert photo.size == MB + 3
    assert read_upload(photo, 8 * MB)[:3] == b"\xff\xd8\xff"
