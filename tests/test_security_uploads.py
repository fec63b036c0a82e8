"""Hostile uploads through the two doors users have, the submit page and the REST API:
renamed executables, truncated and oversized images, decompression bombs, SVG/HTML with
script, polyglots (a valid image with another file appended) and path-traversal file names.
Each is refused with a form/field error and leaves no post and no file behind. (The media
rules themselves are tested in posts/tests/test_media.py.)"""

from __future__ import annotations

import io
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from accounts.services import token_for
from posts import media
from posts.models import Post
from tests.factories import community_make, image_bytes, user_make

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
WINDOWS_EXE = b"MZ\x90\x00\x03" + b"\x00" * 100 + b"This program cannot be run in DOS mode"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SCRIPT = b"<script>alert(document.domain)</script>"


def _bomb() -> bytes:
    out = BytesIO()
    Image.new("1", (14000, 13000)).save(out, format="PNG")  # 182 Mpx in a few hundred KB
    return out.getvalue()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("evil.html", HTML)
    return out.getvalue()


BAD_IMAGES = {
    "elf renamed .jpg": (ELF, "holiday.jpg"),
    "windows exe renamed .png": (WINDOWS_EXE, "cat.png"),
    "svg with script": (SVG, "logo.svg"),
    "svg renamed .png": (SVG, "logo.png"),
    "html renamed .gif": (HTML, "page.gif"),
    "truncated png": (image_bytes("PNG")[:300], "cut.png"),
    "truncated jpeg": (image_bytes("JPEG", size=(800, 600))[:2000], "cut.jpg"),
    "decompression bomb": (_bomb(), "bomb.png"),
    "gif + html polyglot": (image_bytes("GIF") + HTML, "poly.gif"),
    "gif + script polyglot": (image_bytes("GIF") + SCRIPT + b";", "poly2.gif"),
    "png + zip polyglot": (image_bytes("PNG") + _zip(), "poly.png"),
    "jpeg + html polyglot": (image_bytes("JPEG") + HTML, "poly.jpg"),
    "webp + html polyglot": (image_bytes("WEBP") + HTML, "poly.webp"),
    "empty file": (b"", "empty.png"),
}


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def member(db):
    person = user_make("uploader")
    community = community_make(owner=person, name="Uploads", slug="uploads")
    return person, community


def stored(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def api_upload(person, community, data: bytes, name: str, content_type: str = "image/png"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=person)}")
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    body = {"community": community.slug, "kind": "image", "media": upload}
    return client.post("/api/v1/posts/", body, format="multipart")


def page_upload(client, community, data: bytes, name: str, content_type: str = "image/png"):
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    body = {"community": community.pk, "kind": "image", "text": "", "media": upload}
    return client.post("/submit/", body)


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_api_refuses_bad_image_and_stores_nothing(case, member, media_root):
    data, name = BAD_IMAGES[case]
    response = api_upload(*member, data, name)
    assert response.status_code == 400, response.content
    assert "media" in response.json()
    assert Post.objects.filter(kind="image").count() == 0
    assert stored(media_root) == []


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_submit_page_refuses_bad_image_and_stores_nothing(case, member, media_root, client):
    person, community = member
    client.force_login(person)
    data, name = BAD_IMAGES[case]
    response = page_upload(client, community, data, name)
    assert response.status_code == 200  # the form again, with the error
    assert response.context["form"].errors
    assert Post.objects.filter(kind="image").count() == 0
    assert stored(media_root) == []


@pytest.mark.django_db
def test_oversized_image_is_refused_through_both_doors(member, media_root, client, settings):
    person, community = member
    too_big = image_bytes("PNG") + b"\0" * (media.MAX_IMAGE_BYTES + 1)
    assert api_upload(person, community, too_big, "big.png").status_code in (400, 413)
    client.force_login(person)
    response = page_upload(client, community, too_big, "big.png")
    assert response.status_code in (200, 413)
    if response.status_code == 200:
        assert response.context["form"].errors
    assert Post.objects.filter(kind="image").count() == 0
    assert stored(media_root) == []


@pytest.mark.django_db
def test_request_body_over_the_limit_is_413_before_reading(member, client, settings):
    settings.MAX_REQUEST_BYTES = 1024
    person, community = member
    response = api_upload(person, community, image_bytes("PNG", size=(600, 600)), "a.png")
    assert response.status_code == 413


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["../../../../etc/passwd.png", "..\\..\\windows\\evil.png", "/etc/cron.d/x.png",
     "%2e%2e%2fup.png", "nul\x00.png.html", "a" * 300 + ".png"],
)  # fmt: skip
def test_path_traversal_names_never_choose_where_a_file_lands(name, member, media_root):
    """A valid image with a hostile name is stored, but under a random name of our making,
    inside MEDIA_ROOT, with the extension of what the bytes are."""
    person, community = member
    response = api_upload(person, community, image_bytes("PNG"), name)
    if response.status_code == 400:  # refusing the name outright is fine too
        assert Post.objects.count() == 0
        return
    assert response.status_code == 201, response.content
    post = Post.objects.get(kind="image")
    assert post.media.name.startswith("posts/media/") and post.media.name.endswith(".png")
    assert ".." not in post.media.name and "passwd" not in post.media.name
    files = stored(media_root)
    assert len(files) == 2 and all(f.startswith(str(media_root)) for f in files)


@pytest.mark.django_db
def test_a_clean_image_still_goes_through_both_doors(member, media_root, client):
    person, community = member
    assert api_upload(person, community, image_bytes("JPEG"), "ok.jpg").status_code == 201
    client.force_login(person)
    response = page_upload(client, community, image_bytes("GIF"), "ok.gif")
    assert response.status_code == 302
    assert Post.objects.filter(kind="image").count() == 2


def test_image_end_accepts_phone_jpegs_with_appended_jpegs_and_finds_every_end():
    """MPF photos (a phone's depth map or preview appended as further JPEGs) stay accepted."""
    first, second = image_bytes("JPEG"), image_bytes("JPEG", size=(64, 64))
    assert media.image_end(first + second, "JPEG") == len(first) + len(second)
    for image_format in ("PNG", "GIF", "WEBP", "JPEG"):
        data = image_bytes(image_format)
        assert media.image_end(data + HTML, image_format) == len(data)
    processed = media.image_process(SimpleUploadedFile("mpf.jpg", first + second))
    assert processed.content_type == "image/jpeg"
