"""Upload validation by content, derived files (thumbnails, poster frames) and storage.

Nothing here trusts the client's file name or content type: images are identified and
decoded by Pillow (restricted to four formats), videos by their container signature and then
by ffprobe with the demuxer forced to that container and only the `file` protocol allowed.
Files are stored through Django's default storage under random names.
"""

from __future__ import annotations

import contextlib
import json
import logging
import struct
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

MB = 1024 * 1024
MAX_IMAGE_BYTES = 10 * MB
MAX_IMAGE_PIXELS = 40_000_000
MAX_VIDEO_BYTES = 100 * MB
THUMBNAIL_BOX = (640, 640)
FULL_IMAGE_BOX = (2560, 2560)
POSTER_BOX = (1280, 1280)
FFMPEG_TIMEOUT_SECONDS = 60

IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
# ISO base media brands that are MP4 (QuickTime's "qt  " is not).
MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"dash", b"M4V ", b"mmp4", b"MSNV",
}  # fmt: skip
VIDEO_CONTAINERS = {
    # container: (content type, extension, ffmpeg demuxer, ffprobe format_name must contain)
    "mp4": ("video/mp4", "mp4", "mp4", "mp4"),
    "webm": ("video/webm", "webm", "webm", "webm"),
}

IMAGE_ERROR = "This file is not a valid JPEG, PNG, GIF or WebP image."
VIDEO_ERROR = "This file is not a valid MP4 or WebM video."


@dataclass
class ProcessedMedia:
    """A validated upload, ready to store: the file to keep and its thumbnail (or poster)."""

    content_type: str
    extension: str
    size: int
    width: int
    height: int
    media: File
    thumbnail: ContentFile
    duration: float | None = None
    stored_names: list[str] = field(default_factory=list)


def _size_text(size: int) -> str:
    return f"{size / MB:.1f} MB"


# ---------------------------------------------------------------------------- images


def image_process(upload: File) -> ProcessedMedia:
    """Validate an image upload and build its re-encoded full-size file and thumbnail.

    Raises ValidationError (code invalid_image, too_large or too_many_pixels)."""
    if upload.size > MAX_IMAGE_BYTES:
        raise ValidationError(
            f"Images can be at most 10 MB; this file is {_size_text(upload.size)}.",
            code="too_large",
        )
    upload.seek(0)
    data = upload.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _image_process_bytes(data)
    except ValidationError:
        raise
    except (
        OSError,  # includes UnidentifiedImageError and "image file is truncated"
        SyntaxError,  # Pillow's verify() reports broken chunks this way
        ValueError,
        EOFError,
        IndexError,  # a structure walk ran off the end (posts.media.image_end)
        struct.error,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        logger.info("rejected image upload: %s", exc)
        raise ValidationError(IMAGE_ERROR, code="invalid_image") from exc


def _image_open(data: bytes) -> Image.Image:
    return Image.open(BytesIO(data), formats=list(IMAGE_FORMATS))


def _image_process_bytes(data: bytes) -> ProcessedMedia:
    # Check the header's dimensions before anything is decoded (decompression bombs), then
    # verify() the structure, then decode it all once (catches truncated files).
    with _image_open(data) as probe:
        width, height = probe.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ValidationError(
                f"Images can be at most 40 megapixels; this one is {width} x {height}.",
                code="too_many_pixels",
            )
        image_format = probe.format
        probe.verify()
    if image_format not in IMAGE_FORMATS:
        raise UnidentifiedImageError(image_format)
    if image_end(data, image_format) != len(data):
        # Bytes after the image's end are another file riding along (GIF+HTML/JS, PNG+ZIP
        # polyglots); GIFs are stored as uploaded, so such a file would be served verbatim.
        raise ValueError(f"{image_format}: data after the end of the image")
    content_type, extension = IMAGE_FORMATS[image_format]
    with _image_open(data) as image:
        image.load()
        animated = getattr(image, "is_animated", False)
        if image_format == "GIF" or animated:
            # Re-encoding would drop the animation; the bytes were decoded above.
            full = ContentFile(data)
        else:
            full = ContentFile(_encode(_upright(image), image_format, FULL_IMAGE_BOX))
        thumbnail = ContentFile(_encode(_upright(image), "WEBP", THUMBNAIL_BOX))
    return ProcessedMedia(
        content_type=content_type,
        extension=extension,
        size=full.size,
        width=width,
        height=height,
        media=full,
        thumbnail=thumbnail,
    )


def image_end(data: bytes, image_format: str) -> int:
    """Offset just past the image's last structure (PNG IEND chunk, GIF trailer, the RIFF
    length of WebP, JPEG's EOI after the last scan, and after any further JPEGs appended by
    a phone); ValueError when the structure breaks."""
    if image_format == "PNG":
        at = 8
        while at + 12 <= len(data):
            (length,) = struct.unpack(">I", data[at : at + 4])
            kind = data[at + 4 : at + 8]
            at += 12 + length
            if kind == b"IEND":
                return at
        raise ValueError("PNG without IEND")
    if image_format == "WEBP":
        return 8 + int.from_bytes(data[4:8], "little") + (int.from_bytes(data[4:8], "little") & 1)
    if image_format == "GIF":
        return _gif_end(data)
    # Phones append further JPEGs after the first (MPF: depth maps, previews); those are fine.
    end = _jpeg_end(data)
    while data[end : end + 2] == b"\xff\xd8":
        end += _jpeg_end(data[end:])
    return end


def _gif_sub_blocks(data: bytes, at: int) -> int:
    while data[at] != 0:
        at += data[at] + 1
    return at + 1


def _gif_end(data: bytes) -> int:
    at = 13
    if data[10] & 0x80:
        at += 3 * 2 ** ((data[10] & 7) + 1)
    while True:
        block = data[at]
        if block == 0x3B:  # trailer
            return at + 1
        if block == 0x21:  # extension: label, then sub-blocks
            at = _gif_sub_blocks(data, at + 2)
        elif block == 0x2C:  # image descriptor, local colour table, LZW size, sub-blocks
            flags = data[at + 9]
            at += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
            at = _gif_sub_blocks(data, at + 1)
        else:
            raise ValueError(f"GIF: unknown block 0x{block:02x}")


def _jpeg_end(data: bytes) -> int:
    at = 2  # after SOI
    while at + 2 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("JPEG: marker expected")
        marker = data[at + 1]
        if marker == 0xD9:  # EOI
            return at + 2
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        at += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            while at + 1 < len(data) and not (
                data[at] == 0xFF and data[at + 1] not in (0x00, *range(0xD0, 0xD8))
            ):
                at += 1
    raise ValueError("JPEG without EOI")


def _upright(image: Image.Image) -> Image.Image:
    upright = ImageOps.exif_transpose(image)
    if upright.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
    return upright


def _encode(image: Image.Image, image_format: str, box: tuple[int, int]) -> bytes:
    """Re-encode without metadata (no EXIF location leaks), scaled to fit `box`."""
    image = image.copy()
    image.thumbnail(box, Image.Resampling.LANCZOS)
    if image_format == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")
    if image_format == "WEBP" and image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    out = BytesIO()
    options = {"JPEG": {"quality": 88}, "WEBP": {"quality": 82}, "PNG": {}}[image_format]
    image.save(out, format=image_format, **options)
    return out.getvalue()


# ---------------------------------------------------------------------------- videos


def video_container(head: bytes) -> str | None:
    """'mp4' or 'webm' from the first bytes of a file, else None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        box_size = int.from_bytes(head[0:4], "big")
        brands = {head[8:12]}
        brands.update(head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4))
        return "mp4" if brands & MP4_BRANDS else None
    if head[:4] == b"\x1a\x45\xdf\xa3":
        doc_type_at = head.find(b"\x42\x82", 4, 64)
        if doc_type_at != -1 and b"webm" in head[doc_type_at + 2 : doc_type_at + 8]:
            return "webm"
    return None


def video_process(upload: File) -> ProcessedMedia:
    """Validate a video upload (container signature, then ffprobe) and grab a poster frame.

    Raises ValidationError (code invalid_video or too_large)."""
    if upload.size > MAX_VIDEO_BYTES:
        raise ValidationError(
            f"Videos can be at most 100 MB; this file is {_size_text(upload.size)}.",
            code="too_large",
        )
    upload.seek(0)
    container = video_container(upload.read(256))
    if container is None:
        raise ValidationError(VIDEO_ERROR, code="invalid_video")
    content_type, extension, demuxer, format_name = VIDEO_CONTAINERS[container]
    with _local_path(upload) as path:
        probe = _ffprobe(path, demuxer)
        if format_name not in probe.get("format", {}).get("format_name", ""):
            raise ValidationError(VIDEO_ERROR, code="invalid_video")
        width, height, duration = _video_facts(probe)
        poster = _poster_frame(path, demuxer, duration)
    upload.seek(0)
    return ProcessedMedia(
        content_type=content_type,
        extension=extension,
        size=upload.size,
        width=width,
        height=height,
        duration=duration,
        media=upload,
        thumbnail=ContentFile(poster),
    )


@contextlib.contextmanager
def _local_path(upload: File) -> Iterator[str]:
    """A path ffmpeg can read: the upload's own temporary file, or a copy of it."""
    temporary_path = getattr(upload, "temporary_file_path", None)
    if temporary_path is not None:
        yield temporary_path()
        return
    with tempfile.NamedTemporaryFile(prefix="streamer-upload-") as copy:
        upload.seek(0)
        for chunk in upload.chunks():
            copy.write(chunk)
        copy.flush()
        yield copy.name


def _run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(  # noqa: S603 - fixed program, no shell, path from us
            args, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=True
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        logger.info("rejected video upload: %s", getattr(exc, "stderr", b"")[-500:])
        raise ValidationError(VIDEO_ERROR, code="invalid_video") from exc


def _ffprobe(path: str, demuxer: str) -> dict:
    result = _run(
        [
            "ffprobe", "-v", "error", "-protocol_whitelist", "file", "-f", demuxer,
            "-show_entries", "format=duration,format_name:stream=codec_type,width,height",
            "-of", "json", path,
        ]
    )  # fmt: skip
    try:
        return json.loads(result.stdout)
    except ValueError as exc:
        raise ValidationError(VIDEO_ERROR, code="invalid_video") from exc


def _video_facts(probe: dict) -> tuple[int, int, float]:
    streams = [s for s in probe.get("streams", []) if s.get("codec_type") == "video"]
    try:
        duration = float(probe["format"]["duration"])
        width, height = int(streams[0]["width"]), int(streams[0]["height"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValidationError(VIDEO_ERROR, code="invalid_video") from exc
    if duration <= 0 or width <= 0 or height <= 0:
        raise ValidationError(VIDEO_ERROR, code="invalid_video")
    return width, height, duration


def _poster_frame(path: str, demuxer: str, duration: float) -> bytes:
    """A JPEG of the frame a second in (or halfway through a shorter video)."""
    result = _run(
        [
            "ffmpeg", "-v", "error", "-nostdin", "-protocol_whitelist", "file", "-f", demuxer,
            "-ss", f"{min(1.0, duration / 2):.3f}", "-i", path,
            "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-",
        ]
    )  # fmt: skip
    try:
        with Image.open(BytesIO(result.stdout), formats=["PNG"]) as frame:
            frame.load()
            return _encode(frame, "JPEG", POSTER_BOX)
    except (OSError, ValueError) as exc:
        raise ValidationError(VIDEO_ERROR, code="invalid_video") from exc


# ---------------------------------------------------------------------------- storage


def media_store(processed: ProcessedMedia) -> tuple[str, str]:
    """Save the file and its thumbnail under random names; return the stored names.

    The caller must delete them (`media_delete`) if the post is not committed."""
    stem = uuid.uuid4().hex
    thumb_extension = "jpg" if processed.duration is not None else "webp"
    media_name = default_storage.save(f"posts/media/{stem}.{processed.extension}", processed.media)
    processed.stored_names.append(media_name)
    thumb_name = default_storage.save(f"posts/thumbs/{stem}.{thumb_extension}", processed.thumbnail)
    processed.stored_names.append(thumb_name)
    return media_name, thumb_name


def media_delete(names: list[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored media %s", name, exc_info=True)
