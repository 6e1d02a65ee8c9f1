"""Safe image reading for inference: `read_image(path_or_bytes) -> (H, W, 3) uint8 RGB array`.

Accepts JPEG, PNG, BMP and WebP (from a path, bytes or a binary file object). Every failure is an
`ImageError` (a ValueError) whose message is one line naming the file and the problem: missing or
unreadable file, empty file, not an image, an image too large to decode (decompression bombs are
refused from the header size, before any pixel is decoded), or a truncated / corrupt image (it is
fully decoded with `.load()`; truncated files are never silently accepted). EXIF orientation is
applied; grayscale, palette, 16-bit and alpha images become plain RGB (alpha composited on white).
No global PIL setting is changed (LOAD_TRUNCATED_IMAGES, MAX_IMAGE_PIXELS stay as they are).
"""
from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "BMP", "WEBP")
MAX_PIXELS = 50_000_000  # 50 megapixels: ~150 MB as RGB; anything bigger is refused before decoding
MAX_BYTES = 200 * 1024 * 1024  # files larger than this are not read at all


class ImageError(ValueError):
    """A bad or unreadable image; the message is one line naming the file and the problem."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _source(path_or_bytes) -> tuple[io.BytesIO | str, str]:
    """(something PIL can open, a name for messages); raises ImageError for unreadable input."""
    src = path_or_bytes
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        if not data:
            raise ImageError("<bytes>: empty file (0 bytes)")
        if len(data) > MAX_BYTES:
            raise ImageError(f"<bytes>: file too large ({len(data):,} bytes, limit {MAX_BYTES:,})")
        return io.BytesIO(data), "<bytes>"
    if hasattr(src, "read"):  # a binary file object
        name = os.path.basename(str(getattr(src, "name", "<stream>")))
        try:
            data = src.read(MAX_BYTES + 1)
        except OSError as e:
            raise ImageError(f"{name}: cannot read file ({_one_line(e)})") from None
        if not isinstance(data, bytes):
            raise ImageError(f"{name}: file object must be opened in binary mode")
        if not data:
            raise ImageError(f"{name}: empty file (0 bytes)")
        if len(data) > MAX_BYTES:
            raise ImageError(f"{name}: file too large (over {MAX_BYTES:,} bytes)")
        return io.BytesIO(data), name
    if not isinstance(src, (str, os.PathLike)):
        raise ImageError(f"cannot read an image from a {type(src).__name__}; give a path or bytes")
    path = os.fspath(src)
    name = os.path.basename(path) or path
    try:
        size = os.path.getsize(path)
        if os.path.isdir(path):
            raise ImageError(f"{name}: is a folder, not an image file")
        if size == 0:
            raise ImageError(f"{name}: empty file (0 bytes)")
        if size > MAX_BYTES:
            raise ImageError(f"{name}: file too large ({size:,} bytes, limit {MAX_BYTES:,})")
        with open(path, "rb") as fh:
            return io.BytesIO(fh.read()), name
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{name}: file not found") from None
    except OSError as e:
        raise ImageError(f"{name}: cannot read file ({_one_line(e)})") from None


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float grayscale: scale to 8 bits
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        a = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB")


def read_image(path_or_bytes) -> np.ndarray:
    """Decode an image to an (H, W, 3) uint8 RGB array, or raise ImageError (one-line message)."""
    fp, name = _source(path_or_bytes)
    # DecompressionBombWarning -> error only inside this block (the filter is restored on exit).
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(fp, formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageError(f"{name}: image too large to decode ({_one_line(e)})") from None
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not an image (or not a JPEG, PNG, BMP or WebP file)") from None
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise ImageError(f"{name}: not a readable image ({_one_line(e)})") from None
        with im:
            w, h = im.size
            if w < 1 or h < 1:
                raise ImageError(f"{name}: image has no pixels ({w}x{h})")
            if w * h > MAX_PIXELS:
                raise ImageError(f"{name}: image too large ({w}x{h} = {w * h / 1e6:.0f} megapixels; "
                                 f"limit {MAX_PIXELS / 1e6:.0f})")
            try:
                im.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise ImageError(f"{name}: image too large to decode ({_one_line(e)})") from None
            except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as e:
                raise ImageError(f"{name}: truncated or corrupt image ({_one_line(e)})") from None
            except MemoryError:
                raise ImageError(f"{name}: out of memory decoding the image") from None
            try:
                out = ImageOps.exif_transpose(im)  # a copy, rotated if the EXIF says so
            except Exception:  # broken EXIF: keep the pixels as stored
                out = im.copy()
    out = _to_rgb(out)
    arr = np.asarray(out, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageError(f"{name}: could not convert the image to RGB (got shape {arr.shape})")
    return np.ascontiguousarray(arr)
