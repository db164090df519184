"""Checking and cleaning uploaded photos, on images the tests draw with Pillow."""

from __future__ import annotations

import hashlib
import io
import resource
import struct
import sys
import time
import warnings
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from backend.errors import FieldError, ValidationFailed
from backend.uploads import images
from backend.uploads.images import MAX_UPLOAD_BYTES, ProcessedImage, process_image

RED = (220, 20, 20)
BLUE = (20, 20, 220)
# Markers planted in each kind of metadata; none may survive processing.
CAMERA = "QPTESTCAM"
GPS_DATUM = "QPGPSDATUM"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>QPXMP</rdf:RDF></x:xmpmeta>'
COMMENT = "QPCOMMENT"
MARKERS = (CAMERA.encode(), GPS_DATUM.encode(), b"QPXMP", COMMENT.encode())


def encode(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def sideways_photo() -> Image.Image:
    """40x20 as the sensor stored it: a red top-left quarter on blue."""
    image = Image.new("RGB", (40, 20), BLUE)
    image.paste(RED, (0, 0, 20, 10))
    return image


def photo_like(width: int = 320, height: int = 240) -> Image.Image:
    """Gradient and noise: compresses like a photo, unlike a flat colour."""
    gradient = Image.radial_gradient("L").resize((width, height)).convert("RGB")
    return Image.blend(gradient, Image.effect_noise((width, height), 40).convert("RGB"), 0.3)


def translucent(image: Image.Image) -> Image.Image:
    """The image fading from opaque to transparent: an encoder may drop an alpha channel that is all opaque."""
    faded = image.convert("RGBA")
    faded.putalpha(Image.linear_gradient("L").resize(image.size))
    return faded


def exif_with_gps(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = CAMERA
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 9.0, 12.5)  # Qingpu
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 7.0, 3.25)
    gps[ExifTags.GPS.GPSMapDatum] = GPS_DATUM
    return exif


def with_metadata(image: Image.Image, format: str, orientation: int = 6) -> bytes:
    """The image as a phone might send it: EXIF with GPS and orientation, XMP, an ICC profile, a comment."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    options: dict[str, object] = {"exif": exif_with_gps(orientation).tobytes(), "icc_profile": srgb}
    if format == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_itxt("XML:com.adobe.xmp", XMP.decode())
        text.add_text("Comment", COMMENT)
        options["pnginfo"] = text
    else:
        options["xmp"] = XMP
    if format == "JPEG":
        options["comment"] = COMMENT
    data = encode(image, format, **options)
    assert [marker in data for marker in MARKERS] == [True, True, True, format != "WEBP"]
    return data


def png_of_size(width: int, height: int) -> bytes:
    """A complete, valid 1-bit PNG of any size, built row by row without holding its pixels:
    30000x30000 (900 megapixels) deflates to about 100 KB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    rows = bytes(1 + (width + 7) // 8) * 1000  # filter byte + packed bits, all black
    pixels = [compressor.compress(rows) for _ in range(height // 1000)]
    pixels.append(compressor.compress(bytes(1 + (width + 7) // 8) * (height % 1000)))
    pixels.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(pixels)) + chunk(b"IEND", b"")
    )


def refusal(data: bytes) -> str:
    with pytest.raises(ValidationFailed) as caught:
        process_image(data)
    error = caught.value
    assert error.errors == [FieldError(field="file", message=error.message)]
    return error.message


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@pytest.mark.parametrize(
    ("format", "content_type", "extension"),
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp")],
)
def test_turns_the_photo_upright_and_drops_all_metadata(format, content_type, extension):
    processed = process_image(with_metadata(sideways_photo(), format, orientation=6))

    assert (processed.content_type, processed.extension) == (content_type, extension)
    assert (processed.width, processed.height) == (20, 40)
    out = decode(processed.content)
    assert out.format == format
    assert out.size == (20, 40)
    # Orientation 6: the stored pixels turn a quarter clockwise for display, so the red corner ends top right.
    assert close_to(out.convert("RGB").getpixel((15, 5)), RED)
    assert close_to(out.convert("RGB").getpixel((5, 5)), BLUE)
    assert not out.getexif()
    assert not out.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "Comment"} & out.info.keys()
    assert b"Exif" not in processed.content
    for marker in MARKERS:
        assert marker not in processed.content


@pytest.mark.parametrize(
    ("orientation", "size", "red_at"),
    [
        (1, (40, 20), (5, 5)),
        (2, (40, 20), (35, 5)),  # mirrored
        (3, (40, 20), (35, 15)),  # upside down
        (8, (20, 40), (5, 35)),  # a quarter anticlockwise
    ],
)
def test_applies_each_exif_orientation(orientation, size, red_at):
    out = decode(process_image(with_metadata(sideways_photo(), "JPEG", orientation)).content)

    assert out.size == size
    assert close_to(out.getpixel(red_at), RED)


@pytest.mark.parametrize(
    ("image", "format", "mode"),
    [
        pytest.param(photo_like(), "JPEG", "RGB", id="jpeg-rgb"),
        pytest.param(photo_like().convert("L"), "JPEG", "L", id="jpeg-grey"),
        pytest.param(Image.new("CMYK", (30, 20), (0, 255, 255, 0)), "JPEG", "RGB", id="jpeg-cmyk"),
        pytest.param(photo_like(), "PNG", "RGB", id="png-rgb"),
        pytest.param(translucent(photo_like()), "PNG", "RGBA", id="png-rgba"),
        pytest.param(photo_like().convert("LA"), "PNG", "LA", id="png-grey-alpha"),
        pytest.param(photo_like().convert("P"), "PNG", "P", id="png-palette"),
        pytest.param(Image.new("I;16", (30, 20), 40_000), "PNG", "I;16", id="png-16-bit"),
        pytest.param(photo_like(), "WEBP", "RGB", id="webp-rgb"),
        pytest.param(translucent(photo_like()), "WEBP", "RGBA", id="webp-rgba"),
    ],
)
def test_round_trips_each_format_in_a_sensible_mode(image, format, mode):
    processed = process_image(encode(image, format))

    out = decode(processed.content)
    assert (out.format, out.mode, out.size) == (format, mode, image.size)
    assert (processed.width, processed.height) == image.size


def test_keeps_transparency():
    image = Image.new("RGBA", (30, 20), (0, 0, 0, 0))
    image.paste((*RED, 255), (0, 0, 10, 10))
    for format in ("PNG", "WEBP"):
        out = decode(process_image(encode(image, format)).content)
        assert out.getpixel((25, 15))[3] == 0
        assert close_to(out.getpixel((5, 5)), (*RED, 255))

    palette = Image.new("P", (30, 20), 1)
    palette.putpalette([*RED, *BLUE])
    out = decode(process_image(encode(palette, "PNG", transparency=1)).content)
    assert out.info["transparency"] == 1


def test_converts_a_cmyk_jpeg_to_rgb():
    out = decode(process_image(encode(Image.new("CMYK", (30, 20), (0, 255, 255, 0)), "JPEG")).content)

    assert out.mode == "RGB"
    assert close_to(out.getpixel((5, 5)), (255, 0, 0))


def profile_not_called_srgb() -> bytes:
    """Pillow's sRGB profile under another name: Pillow cannot make a wide-gamut one, but the name alone
    decides whether the pixels go through the colour conversion."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return srgb.replace("sRGB".encode("utf-16-be"), "Wide".encode("utf-16-be"))


@pytest.mark.parametrize(
    ("image", "format"),
    [
        pytest.param(Image.new("RGB", (30, 20), RED), "JPEG", id="jpeg"),
        pytest.param(Image.new("RGB", (30, 20), RED), "PNG", id="png"),
        pytest.param(Image.new("RGBA", (30, 20), (*RED, 128)), "PNG", id="png-rgba"),
        pytest.param(Image.new("RGB", (30, 20), RED), "WEBP", id="webp"),
    ],
)
def test_converts_colours_to_srgb_before_dropping_the_icc_profile(image, format):
    out = decode(process_image(encode(image, format, icc_profile=profile_not_called_srgb())).content)

    assert "icc_profile" not in out.info
    assert out.mode == image.mode
    assert close_to(out.getpixel((5, 5)), image.getpixel((5, 5)))


def test_survives_an_unusable_icc_profile():
    out = decode(process_image(encode(Image.new("RGB", (30, 20), RED), "JPEG", icc_profile=b"junk")).content)

    assert "icc_profile" not in out.info
    assert close_to(out.getpixel((5, 5)), RED)


@pytest.mark.parametrize("format", ["PNG", "WEBP"])
def test_keeps_only_the_first_frame_of_an_animation(format):
    frames = [Image.new("RGB", (30, 20), colour) for colour in (RED, BLUE, (20, 220, 20))]
    data = encode(frames[0], format, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert decode(data).n_frames == 3

    processed = process_image(data)
    out = decode(processed.content)
    assert getattr(out, "n_frames", 1) == 1
    assert close_to(out.convert("RGB").getpixel((5, 5)), RED)
    assert b"acTL" not in processed.content  # no APNG animation control left
    assert b"ANIM" not in processed.content  # nor WebP's


def test_a_multi_picture_jpeg_becomes_a_plain_jpeg():
    """Many phones write MPO (a JPEG with a depth or gain map appended); Pillow opens it as "MPO"."""
    data = encode(sideways_photo(), "MPO", save_all=True, append_images=[Image.new("RGB", (40, 20), BLUE)])
    assert decode(data).format == "MPO"

    processed = process_image(data)
    out = decode(processed.content)
    assert (processed.content_type, out.format, out.size) == ("image/jpeg", "JPEG", (40, 20))
    assert close_to(out.getpixel((5, 5)), RED)


def test_keeps_the_pixels_when_the_exif_block_is_malformed():
    broken_exif = b"Exif\x00\x00XM\x00*\x00\x00\x00\x08" + bytes(20)  # not a TIFF header
    data = encode(sideways_photo(), "WEBP", exif=broken_exif)
    with pytest.raises(SyntaxError):
        decode(data).getexif()

    processed = process_image(data)
    assert (processed.width, processed.height) == (40, 20)
    assert b"EXIF" not in processed.content


@pytest.mark.parametrize("format", ["GIF", "BMP", "TIFF", "ICO", "PPM"])
def test_refuses_other_image_formats(format):
    assert refusal(encode(Image.new("RGB", (30, 20), RED), format)) == "仅支持 JPEG、PNG 或 WebP 格式"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(bytes(range(256)) * 40, id="random bytes"),
        pytest.param(b"%PDF-1.7\n" + bytes(100), id="pdf"),
        pytest.param(encode(photo_like(), "JPEG")[:2000], id="truncated jpeg"),
        pytest.param(encode(photo_like(), "PNG")[:3000], id="truncated png"),
        pytest.param(encode(photo_like(), "WEBP")[:3000], id="truncated webp"),
        pytest.param(b"\xff\xd8\xff\xe0" + bytes(MAX_UPLOAD_BYTES - 4), id="exactly the byte limit"),
    ],
)
def test_refuses_what_is_not_a_readable_image(data):
    assert refusal(data) == "无法识别的图片，请上传 JPEG、PNG 或 WebP 格式"


def test_refuses_an_empty_file():
    assert refusal(b"") == "文件为空"


def test_refuses_an_oversized_payload_without_decoding(monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("Pillow was asked to open an oversized payload")

    monkeypatch.setattr(Image, "open", no_decoding)

    assert (
        refusal(encode(Image.new("RGB", (10, 10)), "PNG") + bytes(MAX_UPLOAD_BYTES)) == "图片不能超过 10 MB"
    )


@pytest.fixture(scope="module")
def decompression_bomb() -> bytes:
    return png_of_size(30_000, 30_000)


def test_refuses_a_decompression_bomb_quickly_and_in_little_memory(decompression_bomb):
    assert len(decompression_bomb) < 200_000
    started = time.perf_counter()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    assert refusal(decompression_bomb) == "图片尺寸过大"

    assert time.perf_counter() - started < 1
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    grown_mb = grown / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB elsewhere
    assert grown_mb < 50  # decoding would have taken 900 MB


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (8_000, 6_000),  # 48 megapixels: over our limit, under Pillow's
        (20_001, 100),  # a side longer than any camera's
        (100, 20_001),
        (10_000, 10_000),  # 100 megapixels: where Pillow only warns
    ],
)
def test_refuses_too_many_pixels_from_the_header(width, height):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        assert refusal(png_of_size(width, height)) == "图片尺寸过大"


def test_refuses_pillows_bomb_warning_when_the_process_turns_warnings_into_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        assert refusal(png_of_size(10_000, 10_000)) == "图片尺寸过大"


def test_honours_a_lower_pillow_limit_set_for_the_whole_process(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        assert refusal(png_of_size(1_200, 1_000)) == "图片尺寸过大"


def test_accepts_an_image_at_the_limits():
    processed = process_image(png_of_size(20_000, 2_000))

    assert (processed.width, processed.height) == (20_000, 2_000)
    assert images.MAX_PIXELS >= 20_000 * 2_000


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP"])
def test_sha256_is_of_the_content(format):
    processed = process_image(encode(photo_like(), format))

    assert isinstance(processed, ProcessedImage)
    assert processed.sha256 == hashlib.sha256(processed.content).hexdigest()


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP"])
def test_processing_its_own_output_is_stable(format):
    first = process_image(with_metadata(photo_like(), format))
    second = process_image(first.content)

    assert (second.width, second.height, second.content_type) == (
        first.width,
        first.height,
        first.content_type,
    )
    assert len(second.content) <= len(first.content) * 1.02
    assert not decode(second.content).getexif()
    if format == "PNG":  # lossless: the very same bytes, hence the same blob key
        assert second.content == first.content
