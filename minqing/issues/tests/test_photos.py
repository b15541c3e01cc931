"""Photos of problems: checked by their bytes and size, sealed at rest, shown only in scope."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from minqing.issues.models import IssuePhoto
from minqing.issues.photos import PHOTOS, photo_add

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
    assert (photo.content_type, photo.size) == ("image/png", len(PNG))
    raw = PHOTOS.resolve(photo.stored).read_bytes()
    assert PNG not in raw and b"PNG" not in raw  # sealed, not the picture
    url = reverse("issues:photo", kwargs={"pk": issue.pk, "photo_pk": photo.pk})
    client.force_login(owner)
    shown = client.get(url)
    assert shown.status_code == 200 and shown.content == PNG
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
    county, member, register, clock, settings, data, message
):
    settings.MINQING_PHOTO_MAX_BYTES = 1024
    issue = register()
    with pytest.raises(ValidationError, match=message):
        photo_add(by=member, issue=issue, data=data)
    assert not IssuePhoto.objects.exists()
    assert not PHOTOS.root.exists() or not any(PHOTOS.root.rglob("*.sealed"))
    assert issue.events.count() == 1


def test_registration_with_a_bad_photo_registers_nothing(client, county, member, irrigation, clock):
    from minqing.issues.models import Issue

    client.force_login(member)
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
    assert not Issue.objects.exists()


def _file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/png")
