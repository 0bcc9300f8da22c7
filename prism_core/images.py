"""Image helpers shared by the release reader, the generator, the chain and the backends.

Images travel through prism as encoded bytes (PNG/JPEG as stored); these helpers convert the
forms users hand in, check that bytes decode, hash them for the cache and encode them for APIs.
PIL is imported only when pixels are touched.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import io
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

__all__ = ["encoded_bytes", "check_image", "decode_image", "image_hash", "data_url", "png_bytes",
           "memo_by_image"]


def png_bytes(image, compress_level: int = 6) -> bytes:
    """A PIL image encoded as PNG."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def encoded_bytes(image: Any) -> bytes | None:
    """Encoded bytes of an image given as bytes, a ``datasets`` Image value ({"bytes", "path"}),
    a file path or a PIL image (kept in its own format, PNG when it has none); None for None."""
    if image is None:
        return None
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if isinstance(image, dict):
        if image.get("bytes"):
            return bytes(image["bytes"])
        path = image.get("path")
        return Path(path).read_bytes() if path else None
    if isinstance(image, str) or hasattr(image, "__fspath__"):
        return Path(image).read_bytes()
    if hasattr(image, "save"):
        buf = io.BytesIO()
        image.save(buf, format=(getattr(image, "format", None) or "PNG"))
        return buf.getvalue()
    raise TypeError(f"unsupported image value {type(image).__name__}")


def check_image(data: bytes) -> None:
    """Decode an encoded image fully, so a truncated or corrupt file fails here, not later in a
    model; raises PIL's error (OSError, SyntaxError, ValueError, DecompressionBombError)."""
    from PIL import Image
    with Image.open(io.BytesIO(data)) as im:
        im.load()


def decode_image(data: bytes):
    """A PIL RGB image from encoded bytes; ValueError naming the size when unreadable."""
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:
        raise ValueError(f"cannot decode image ({len(data)} bytes): {exc}") from None
    return image.convert("RGB")


def image_hash(data: bytes) -> str:
    """sha256 of the encoded bytes (part of cache keys)."""
    return hashlib.sha256(data).hexdigest()


def data_url(data: bytes) -> str:
    """A base64 ``data:`` URL for encoded image bytes (MIME type from the file signature)."""
    mime = ("image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else
            "image/jpeg" if data[:3] == b"\xff\xd8\xff" else
            "image/gif" if data[:6] in (b"GIF87a", b"GIF89a") else
            "image/webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else "image/png")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def memo_by_image(maxsize: int = 4096) -> Callable:
    """Decorator: memoise ``fn(data, *args)`` per image content (SHA-256 of the encoded bytes)
    and the other (hashable) arguments, least recently used first out; ``fn.cache_clear()``
    empties it. For readers that look at a picture once per process however often it is sent
    (OCR, faces), safe across threads."""
    def wrap(fn: Callable) -> Callable:
        memo: OrderedDict = OrderedDict()
        lock = threading.Lock()

        @functools.wraps(fn)
        def memoised(data: bytes, *args):
            key = (hashlib.sha256(data).digest(), args)
            with lock:
                if key in memo:
                    memo.move_to_end(key)
                    return memo[key]
            value = fn(data, *args)
            with lock:
                memo[key] = value
                if len(memo) > maxsize:
                    memo.popitem(last=False)
            return value

        memoised.cache_clear = memo.clear
        return memoised
    return wrap
