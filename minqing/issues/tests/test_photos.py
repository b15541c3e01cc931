"""Photos of problems: checked by their bytes and size, re-encoded without EXIF/GPS and with
bounded pixels, sealed at rest, shown only in scope."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from minqing.issues.models import IssuePhoto
from minqing.issues.photos import PHOTOS, photo_add, photo_bytes

#: A 1×1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def test_photo_is_sealed_at_rest_and_served_to_those_who_see_the_issue(
    client, county, member, owner, outsider, register, clock, tmp_path
):
    issue = register()
    client.force_login(member)
    upload = client.post(
        reverse("issues:photo_upload", kwargs={"pk": issue.pk}),
        {"photo": _file("渠.png", PNG)},
    )
    assert upload.status_code == 302
    photo = IssuePhoto.objects.get()
    stored = photo_bytes(photo)  # re-encoded: the same 1×1 picture, not the same bytes
    assert (photo.content_type, photo.size) == ("image/png", len(stored))
    assert _pixels(stored) == _pixels(PNG)
    raw = PHOTOS.resolve(photo.stored).read_bytes()
    assert stored not in raw and b"PNG" not in raw  # sealed, not the picture
    url = reverse("issues:photo", kwargs={"pk": issue.pk, "photo_pk": photo.pk})
    client.force_login(owner)
    shown = client.get(url)
    assert shown.status_code == 200 and shown.content == stored
    assert shown["Content-Type"] == "image/png"
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert list(issue.events.values_list("action", flat=True)) == ["register", "photo"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<script>alert(1)</script>", "Only JPEG, PNG or WebP"),
        (b"", "empty"),
        (PNG + b"\0" * 2048, "at most 1.0"),
    ],
)
def test_bad_photos_are_refused_and_nothing_is_stored(
    county, member, register, clock, settings, data, message, writes
):
    settings.MINQING_PHOTO_MAX_BYTES = 1024
    issue = register()
    before = writes()
    with pytest.raises(ValidationError, match=message):
        photo_add(by=member, issue=issue, data=data)
    assert not IssuePhoto.objects.exists()
    assert not PHOTOS.root.exists() or not any(PHOTOS.root.rglob("*.sealed"))
    assert issue.events.count() == 1 and writes() == before


def test_registration_with_a_bad_photo_registers_nothing(
    client, county, member, irrigation, clock, writes
):
    from minqing.issues.models import Issue

    client.force_login(member)
    before = writes()
    response = client.post(
        reverse("issues:register") + f"?node={county.grid_a1.pk}",
        {
            "colour": "blue",
            "category": irrigation.pk,
            "description": "水渠漏水",
            "complexity": "general",
            "source": "visit",
            "photo": _file("x.jpg", b"not a picture"),
        },
    )
    assert response.status_code == 400
    assert "Only JPEG, PNG or WebP" in response.content.decode()
    assert not Issue.objects.exists() and writes() == before


def _file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/png")


def _pixels(data: bytes) -> tuple:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size, image.convert("RGBA").getpixel((0, 0))


def _jpeg_with_gps(size=(64, 48), orientation: int = 1) -> bytes:
    """A phone photo: EXIF with the camera, a GPS position (谯城区) and an orientation."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (33.0, 50.0, 40.0), 3: "E", 4: (115.0, 46.0, 52.0)})
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=exif, comment=b"secret note")
    return out.getvalue()


def test_a_photo_comes_back_without_exif_gps_or_comment(county, member, register, clock):
    from PIL import Image

    data = _jpeg_with_gps()
    assert b"PhoneMaker" in data and Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    photo = photo_add(by=member, issue=register(), data=data)
    stored = photo_bytes(photo)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
        assert dict(image.getexif()) == {}
        assert "comment" not in image.info and "exif" not in image.info
    for trace in (b"Exif", b"PhoneMaker", b"secret note"):
        assert trace not in stored
    assert photo.content_type == "image/jpeg"


def test_the_cameras_orientation_is_applied_before_exif_is_dropped(county, member, register, clock):
    from PIL import Image

    photo = photo_add(by=member, issue=register(), data=_jpeg_with_gps(orientation=6))
    with Image.open(io.BytesIO(photo_bytes(photo))) as image:
        assert image.size == (48, 64)  # turned upright, as the phone showed it


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width × height pixels in a few bytes (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_a_pixel_bomb_is_refused_before_its_pixels_are_decoded(
    county, member, register, clock, settings, writes
):
    bomb = _png_header_only(60_000, 60_000)  # 3.6 gigapixels, 10 GB decoded
    assert len(bomb) < 100
    issue = register()
    before = writes()
    with pytest.raises(ValidationError, match="too many pixels to be read safely"):
        photo_add(by=member, issue=issue, data=bomb)  # past Pillow's own guard
    with pytest.raises(ValidationError, match="60 megapixels; photos may have at most 50"):
        photo_add(by=member, issue=issue, data=_png_header_only(10_000, 6_000))  # past ours
    settings.MINQING_PHOTO_MAX_PIXELS = 1000
    with pytest.raises(ValidationError, match="photos may have at most 0"):
        photo_add(by=member, issue=issue, data=_jpeg_with_gps(size=(100, 100)))
    assert not IssuePhoto.objects.exists() and writes() == before


def test_the_pixel_limit_message_is_chinese(county, member, register, clock):
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ValidationError) as caught:
        photo_add(by=member, issue=register(), data=_png_header_only(10_000, 6_000))
    assert caught.value.message_dict["photo"] == [
        "这张照片有 60 百万像素，照片最多 50 百万像素。请用较低的分辨率重新拍摄。"
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + b"<script>alert(1)</script>" * 10,  # JPEG magic, then HTML
        b"\x89PNG\r\n\x1a\n" + b"GIF89a" * 20,
        PNG[:40],  # a picture cut short
    ],
)
def test_a_non_image_behind_image_magic_is_refused(county, member, register, clock, data, writes):
    issue = register()
    before = writes()
    with pytest.raises(ValidationError, match="not a readable JPEG, PNG or WebP picture"):
        photo_add(by=member, issue=issue, data=data)
    assert not IssuePhoto.objects.exists() and writes() == before
    assert not PHOTOS.root.exists() or not any(PHOTOS.root.rglob("*.sealed"))


def test_a_photo_over_the_limit_is_refused_before_it_is_read(
    client, county, member, register, clock, settings, monkeypatch
):
    """The upload handler stops storing it at the limit; the view never reads it whole."""
    from django.core.files.uploadedfile import UploadedFile

    settings.MINQING_PHOTO_MAX_BYTES = 64 * 1024
    settings.MINQING_UPLOAD_LIMITS = {"file": 1 << 20, "photo": 64 * 1024}
    reads = []
    real_read = UploadedFile.read

    def read(self, *args):
        data = real_read(self, *args)
        reads.append(len(data))
        return data

    monkeypatch.setattr(UploadedFile, "read", read, raising=False)
    issue = register()
    client.force_login(member)
    big = io.BytesIO(_jpeg_with_gps() + b"\0" * (1 << 20))
    big.name = "big.jpg"  # not an UploadedFile: the client's own read is not counted
    response = client.post(
        reverse("issues:photo_upload", kwargs={"pk": issue.pk}), {"photo": big}, follow=True
    )
    assert "Photos may be at most 64.0" in response.content.decode()
    assert not IssuePhoto.objects.exists()
    assert all(n <= 64 * 1024 + 1 for n in reads)
