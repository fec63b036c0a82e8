"""Pictures and short videos for generated posts: real JPEG/PNG files drawn with Pillow and
real MP4 files encoded by ffmpeg (when it is installed)."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

IMAGE_SIZES = ((960, 640), (800, 800), (640, 960), (1024, 576))


def _font(size: int) -> ImageFont.ImageFont:
    for path in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ):
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _blend(a: str, b: str, t: float) -> tuple[int, int, int]:
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return tuple(round(x + (y - x) * t) for x, y in zip(ca, cb, strict=True))  # type: ignore[return-value]


def picture(rng: random.Random, *, palette: tuple[str, str], title: str) -> tuple[bytes, str]:
    """A varied picture: a gradient in the topic's colours, random shapes, and a caption.

    Returns the encoded bytes and the file extension (jpg or png)."""
    width, height = rng.choice(IMAGE_SIZES)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    dark, light = palette
    for y in range(0, height, 4):
        draw.rectangle((0, y, width, y + 4), fill=_blend(dark, light, y / height))
    for _ in range(rng.randint(4, 12)):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randint(20, width // 4)
        colour = _blend(light, dark, rng.random())
        box = (x - radius, y - radius, x + radius, y + radius)
        if rng.random() < 0.5:
            draw.ellipse(box, outline=colour, width=rng.randint(2, 10))
        else:
            draw.rectangle(box, fill=colour)
    font = _font(max(width // 18, 16))
    text = title[:40]
    draw.rectangle((0, height - height // 6, width, height), fill=_blend(dark, "#000000", 0.5))
    draw.text((width // 20, height - height // 8), text, fill=light, font=font)
    buffer = io.BytesIO()
    if rng.random() < 0.7:
        image.save(buffer, format="JPEG", quality=82)
        return buffer.getvalue(), "jpg"
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue(), "png"


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def short_video(rng: random.Random, *, seconds: float = 2.0) -> bytes:
    """A short real MP4 (H.264) from one of ffmpeg's generated test patterns with a tone."""
    pattern = rng.choice(["testsrc2", "smptebars", "mandelbrot", "rgbtestsrc", "life"])
    hue = rng.randint(0, 360)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "clip.mp4"
        command = [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"{pattern}=size=480x270:rate=24",
            "-f", "lavfi", "-i", f"sine=frequency={rng.randint(220, 880)}",
            "-vf", f"hue=h={hue}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-t", str(seconds), "-movflags", "+faststart", str(out),
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603
        return out.read_bytes()
