"""Real media bytes made in the test process: Pillow images and ffmpeg test-pattern videos."""

from __future__ import annotations

import subprocess
import tempfile
from functools import cache
from io import BytesIO
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (320, 200)) -> bytes:
    image = Image.new("RGB", size, (240, 120, 40))
    draw = ImageDraw.Draw(image)
    draw.ellipse((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), fill="navy")
    out = BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


def image_upload(
    image_format: str = "PNG", name: str = "photo.png", **kwargs
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(image_format, **kwargs), content_type="image/png")


@cache
def video_bytes(container: str = "mp4") -> bytes:
    codec = {"mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p"], "webm": ["-c:v", "libvpx"]}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip.{container}"
        subprocess.run(
            [
                "ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi",
                "-i", "testsrc=duration=1:size=320x240:rate=10",
                *codec[container], str(path),
            ],
            check=True,
            timeout=60,
        )  # fmt: skip
        return path.read_bytes()


def video_upload(container: str = "mp4", name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name or f"clip.{container}", video_bytes(container), content_type=f"video/{container}"
    )
