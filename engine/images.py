"""Images as every room sees them: safe reading (`read_image`) and the one letterbox (`letterbox`,
`resize_long`) that training's validation and the predictor both use, so they feed a model the same
pixels. `IMAGE_EXTS` are the file endings taken as images when a folder is listed.

`read_image(path_or_bytes) -> (H, W, 3) uint8 RGB array` accepts JPEG, PNG, BMP and WebP (from a path, bytes or a binary file object). Every failure is an
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
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")  # the file endings of FORMATS
PAD_VALUE = 114  # grey, for letterbox padding and the area outside an augmented image
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


def resize_long(img: np.ndarray, size: int) -> np.ndarray:
    """Resize (H, W, 3) uint8 so its long side is `size` (bilinear); the same array if it already is."""
    h, w = img.shape[:2]
    ratio = size / max(h, w)
    nw, nh = max(1, round(w * ratio)), max(1, round(h * ratio))
    if (nw, nh) == (w, h):
        return img
    return np.asarray(Image.fromarray(img).resize((nw, nh), Image.BILINEAR))


def letterbox(img: np.ndarray, size: int, stride: int = 32) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize (H, W, 3) uint8 so its long side is `size`, pad to size x size with PAD_VALUE, centred.
    Returns (out, ratio, (pad_left, pad_top)): letterboxed = original * ratio + pad. `size` must be a
    positive multiple of `stride` (ValueError)."""
    if size <= 0 or size % stride:
        raise ValueError(f"image size {size} must be a positive multiple of the stride {stride}")
    h, w = img.shape[:2]
    ratio = size / max(h, w)
    img = resize_long(img, size)
    nh, nw = img.shape[:2]
    left, top = (size - nw) // 2, (size - nh) // 2
    out = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    out[top:top + nh, left:left + nw] = img
    return out, ratio, (left, top)
