"""Upload validation with real bytes: Pillow images, ffmpeg test-pattern videos, bad files."""

import subprocess
import tempfile
from io import BytesIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from PIL import Image

from posts import media, services
from posts.models import Post
from tests.factories import community_make, image_bytes, user_make, video_bytes, video_upload
from tests.support.files import stored_files

ELF_EXECUTABLE = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def upload(data: bytes, name: str, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def big_upload(size: int, name: str, head: bytes) -> TemporaryUploadedFile:
    """A real (sparse) temporary upload of `size` bytes starting with `head`."""
    file = TemporaryUploadedFile(name, "application/octet-stream", size, None)
    file.write(head)
    file.seek(size - 1)
    file.write(b"\0")
    file.seek(0)
    return file


@pytest.mark.parametrize(
    ("image_format", "content_type", "extension"),
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"),
     ("GIF", "image/gif", "gif"), ("WEBP", "image/webp", "webp")],
)  # fmt: skip
def test_accepts_the_four_image_formats(image_format, content_type, extension):
    processed = media.image_process(upload(image_bytes(image_format), "x.bin"))
    assert (processed.content_type, processed.extension) == (content_type, extension)
    assert (processed.width, processed.height) == (320, 200)
    with Image.open(BytesIO(processed.thumbnail.read())) as thumbnail:
        assert thumbnail.format == "WEBP"
        assert thumbnail.size == (320, 200)


def test_large_images_get_a_small_thumbnail_and_a_bounded_full_size():
    processed = media.image_process(upload(image_bytes("JPEG", size=(3000, 1500)), "big.jpg"))
    with Image.open(BytesIO(processed.thumbnail.read())) as thumbnail:
        assert thumbnail.size == (640, 320)
    with Image.open(BytesIO(processed.media.read())) as full:
        assert full.size == (2560, 1280)


def test_jpeg_metadata_is_stripped_and_orientation_applied():
    image = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "SpyCam"
    out = BytesIO()
    image.save(out, format="JPEG", exif=exif)
    processed = media.image_process(upload(out.getvalue(), "phone.jpg"))
    with Image.open(BytesIO(processed.media.read())) as full:
        assert full.size == (20, 40)
        assert not full.getexif()


def test_animated_gifs_keep_their_frames():
    frames = [Image.new("P", (30, 30), color) for color in (1, 2, 3)]
    out = BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    processed = media.image_process(upload(out.getvalue(), "anim.gif"))
    assert processed.media.read() == out.getvalue()


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (ELF_EXECUTABLE, "holiday.jpg"),
        (b"MZ\x90\x00\x03" + b"\x00" * 100, "cat.png"),
        (SVG, "logo.png"),
        (SVG, "logo.svg"),
        (HTML, "page.gif"),
        (image_bytes("PNG")[:300], "truncated.png"),
        (image_bytes("JPEG", size=(800, 600))[:2000], "truncated.jpg"),
        (image_bytes("BMP"), "bitmap.png"),
        (b"", "empty.png"),
    ],
    ids=["elf", "windows-exe", "svg-renamed", "svg", "html", "png-cut", "jpeg-cut", "bmp", "empty"],
)
def test_rejects_files_that_are_not_valid_images(data, name):
    with pytest.raises(ValidationError) as excinfo:
        media.image_process(upload(data, name))
    assert excinfo.value.code == "invalid_image"
    assert "not a valid JPEG, PNG, GIF or WebP image" in excinfo.value.messages[0]


def test_rejects_images_over_10_mb_before_reading_them():
    too_big = big_upload(media.MAX_IMAGE_BYTES + 1, "huge.png", image_bytes("PNG"))
    with pytest.raises(ValidationError) as excinfo:
        media.image_process(too_big)
    assert excinfo.value.code == "too_large"
    assert "at most 10 MB" in excinfo.value.messages[0]


def test_rejects_images_over_40_megapixels_without_decoding():
    out = BytesIO()
    Image.new("1", (8000, 5001)).save(out, format="PNG")  # small file, 40.008 Mpx
    with pytest.raises(ValidationError) as excinfo:
        media.image_process(upload(out.getvalue(), "wide.png"))
    assert excinfo.value.code == "too_many_pixels"


def test_decompression_bombs_are_rejected():
    out = BytesIO()
    Image.new("1", (14000, 13000)).save(out, format="PNG")  # 182 Mpx in a few hundred KB
    assert len(out.getvalue()) < 1024 * 1024
    with pytest.raises(ValidationError):
        media.image_process(upload(out.getvalue(), "bomb.png"))


# ---------------------------------------------------------------------------- videos


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_accepts_mp4_and_webm_with_duration_and_poster(container):
    processed = media.video_process(video_upload(container, name="movie.bin"))
    assert processed.content_type == f"video/{container}"
    assert processed.extension == container
    assert (processed.width, processed.height) == (320, 240)
    assert processed.duration == pytest.approx(1.0, abs=0.2)
    with Image.open(BytesIO(processed.thumbnail.read())) as poster:
        assert poster.format == "JPEG" and poster.size == (320, 240)


def test_accepts_videos_uploaded_as_temporary_files():
    data = video_bytes("mp4")
    file = TemporaryUploadedFile("clip.mp4", "video/mp4", len(data), None)
    file.write(data)
    file.seek(0)
    assert media.video_process(file).duration > 0


def _ffmpeg_clip(container_args: list[str], suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip{suffix}"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi",
             "-i", "testsrc=duration=1:size=160x120:rate=5", *container_args, str(path)],
            check=True, timeout=60,
        )  # fmt: skip
        return path.read_bytes()


@pytest.mark.parametrize(
    "data",
    [
        ELF_EXECUTABLE,
        HTML,
        image_bytes("PNG"),
        video_bytes("mp4")[:4096],  # cut before the moov atom
        b"\x1a\x45\xdf\xa3" + b"\x00" * 60,  # EBML magic, no webm doctype
    ],
    ids=["elf", "html", "png", "mp4-cut", "ebml-junk"],
)
def test_rejects_files_that_are_not_valid_videos(data):
    with pytest.raises(ValidationError) as excinfo:
        media.video_process(upload(data, "movie.mp4", "video/mp4"))
    assert excinfo.value.code == "invalid_video"


def test_rejects_quicktime_and_plain_matroska():
    quicktime = _ffmpeg_clip(["-c:v", "mpeg4", "-f", "mov"], ".mov")
    matroska = _ffmpeg_clip(["-c:v", "mpeg4", "-f", "matroska"], ".mkv")
    for data in (quicktime, matroska):
        with pytest.raises(ValidationError):
            media.video_process(upload(data, "movie.mp4", "video/mp4"))


def test_rejects_mp4_signature_with_garbage_after_it():
    fake = video_bytes("mp4")[:32] + b"\x00" * 5000
    with pytest.raises(ValidationError):
        media.video_process(upload(fake, "movie.mp4", "video/mp4"))


def test_rejects_videos_over_100_mb():
    too_big = big_upload(media.MAX_VIDEO_BYTES + 1, "long.mp4", video_bytes("mp4")[:64])
    with pytest.raises(ValidationError) as excinfo:
        media.video_process(too_big)
    assert excinfo.value.code == "too_large"


def test_video_signature_sniffing():
    assert media.video_container(video_bytes("mp4")[:256]) == "mp4"
    assert media.video_container(video_bytes("webm")[:256]) == "webm"
    assert media.video_container(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ") is None
    assert media.video_container(b"GIF89a") is None


# ---------------------------------------------------------------------------- through post_create


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "data", "name"),
    [
        ("image", ELF_EXECUTABLE, "photo.jpg"),
        ("image", image_bytes("PNG")[:300], "photo.png"),
        ("image", SVG, "photo.svg"),
        ("video", HTML, "clip.mp4"),
        ("video", image_bytes("GIF"), "clip.webm"),
    ],
)
def test_bad_uploads_store_nothing(media_root, kind, data, name):
    owner = user_make()
    community = community_make(owner=owner)
    with pytest.raises(ValidationError) as excinfo:
        services.post_create(author=owner, community=community, kind=kind, media=upload(data, name))
    assert list(excinfo.value.message_dict) == ["media"]
    assert Post.objects.count() == 0
    assert not media_root.exists() or stored_files(media_root) == []
