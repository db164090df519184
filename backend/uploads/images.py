"""Checking an uploaded photo and re-encoding it upright, first frame only, without metadata."""

from __future__ import annotations

import functools
import hashlib
import io
import struct
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from backend.errors import ValidationFailed

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Refuse larger images (decompression bombs) before decoding pixel data.
MAX_PIXELS = 40_000_000
MAX_SIDE = 20_000

EMPTY = "文件为空"
TOO_LARGE = "图片不能超过 10 MB"
UNREADABLE = "无法识别的图片，请上传 JPEG、PNG 或 WebP 格式"
UNSUPPORTED = "仅支持 JPEG、PNG 或 WebP 格式"
TOO_MANY_PIXELS = "图片尺寸过大"

# The only formats Pillow may decode; other formats are merely identified, to word the refusal.
_DECODABLE = ("JPEG", "PNG", "WEBP")
# Pillow's JPEG opener returns an MPO for the multi-picture JPEGs many phones write (depth or gain maps).
_OUTPUT_FORMAT = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP"}
_CONTENT_TYPE = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
_OUTPUT_MODES = {
    "JPEG": {"L", "RGB"},
    "PNG": {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"},
    "WEBP": {"RGB", "RGBA"},
}
_SAVE_OPTIONS: dict[str, dict[str, object]] = {
    "JPEG": {"quality": 85, "optimize": True},
    "PNG": {},
    "WEBP": {"quality": 85},
}
# What Pillow raises on truncated or corrupt data, besides UnidentifiedImageError (an OSError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
# What Pillow raises reading or rewriting a malformed EXIF block in ImageOps.exif_transpose.
_EXIF_ERRORS = (SyntaxError, ValueError, TypeError, AttributeError, KeyError, struct.error)


@dataclass(frozen=True)
class ProcessedImage:
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str  # hex digest of `content`


def process_image(data: bytes) -> ProcessedImage:
    """The uploaded bytes as a clean image of the same format, or ValidationFailed saying why not."""
    if not data:
        raise _refused(EMPTY)
    if len(data) > MAX_UPLOAD_BYTES:
        raise _refused(TOO_LARGE)
    try:
        with Image.open(io.BytesIO(data), formats=_DECODABLE) as source:
            _check_dimensions(source.width, source.height)
            source.load()  # the first frame only: animations start there
            output_format = _OUTPUT_FORMAT[source.format or ""]
            image = _upright(source)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refused(TOO_MANY_PIXELS) from exc
    except UnidentifiedImageError as exc:
        raise _refused(UNSUPPORTED if _is_other_image(data) else UNREADABLE) from exc
    except _DECODE_ERRORS as exc:
        raise _refused(UNREADABLE) from exc

    image = _without_metadata(_in_output_mode(_to_srgb(image), output_format), output_format)
    buffer = io.BytesIO()
    image.save(buffer, output_format, **_SAVE_OPTIONS[output_format])
    content = buffer.getvalue()
    content_type, extension = _CONTENT_TYPE[output_format]
    return ProcessedImage(
        content=content,
        content_type=content_type,
        extension=extension,
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed.on("file", message)


def _check_dimensions(width: int, height: int) -> None:
    """Refuse from the header's size alone, before any pixel is decoded.

    Pillow only warns (DecompressionBombWarning) between Image.MAX_IMAGE_PIXELS and twice that, and
    turning the warning into an error would mean changing the process-wide warnings filters, which is
    not thread-safe. Our own limit never exceeds Pillow's, so every image Pillow warns about is refused
    here, even when someone has lowered Image.MAX_IMAGE_PIXELS for the whole process; the warning itself
    still reaches the log unless the process filters it.
    """
    pillow_limit = Image.MAX_IMAGE_PIXELS
    limit = MAX_PIXELS if pillow_limit is None else min(MAX_PIXELS, pillow_limit)
    if width > MAX_SIDE or height > MAX_SIDE or width * height > limit:
        raise _refused(TOO_MANY_PIXELS)


def _is_other_image(data: bytes) -> bool:
    """Whether Pillow recognises the header as some format we refuse (GIF, BMP, TIFF…); nothing is decoded."""
    Image.init()  # registers every format plugin, filling Image.ID
    # Not ours again: Pillow's JPEG opener scans junk byte by byte, about a second per 10 MB.
    others = [name for name in Image.ID if name not in _DECODABLE]
    try:
        with Image.open(io.BytesIO(data), formats=others):
            return True
    except Image.DecompressionBombError:
        return True  # raised only after a format plugin accepted the header
    except Exception:  # any failure here only changes the wording of the refusal
        return False


def _upright(image: Image.Image) -> Image.Image:
    """A loaded copy turned the way the EXIF orientation says the camera was held."""
    try:
        return ImageOps.exif_transpose(image)
    except _EXIF_ERRORS:
        # The pixels decoded but the EXIF block is malformed: the orientation is unknown, keep the photo as is.
        return image.copy()


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(image: Image.Image) -> Image.Image:
    """Pixels converted to sRGB from an embedded ICC profile (e.g. an iPhone's Display P3), so the profile
    can be dropped without shifting colours; unchanged when there is no usable profile."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in {"RGB", "RGBA", "CMYK"}:
        return image
    output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        embedded = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if image.mode != "CMYK" and "srgb" in ImageCms.getProfileDescription(embedded).lower():
            return image  # already sRGB, as most Android photos are: spare the ~0.3 s per 12 megapixels
        converted = ImageCms.profileToProfile(image, embedded, _srgb(), outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a broken or mismatched profile: Pillow's plain conversion below will do
    return converted if converted is not None else image


def _in_output_mode(image: Image.Image, output_format: str) -> Image.Image:
    if image.mode in _OUTPUT_MODES[output_format]:
        return image
    keeps_alpha = output_format != "JPEG" and image.has_transparency_data
    return image.convert("RGBA" if keeps_alpha else "RGB")


def _without_metadata(image: Image.Image, output_format: str) -> Image.Image:
    """The image with nothing left in `info` for a saver to write back (PNG's saver, for one, reuses
    info["icc_profile"] and JPEG's reuses info["comment"]); only PNG's transparent colour is pixel data."""
    kept: dict[str | tuple[int, int], Any] = {}
    if output_format == "PNG" and "transparency" in image.info:
        kept["transparency"] = image.info["transparency"]
    image.info = kept
    return image
