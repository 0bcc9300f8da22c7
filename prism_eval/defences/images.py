"""Image defences: strip metadata, blur or pixelate the text in a picture, downscale to a small
JPEG, remove the image.

- ``strip-metadata``: the pixels re-encoded alone (no EXIF, GPS, XMP, ICC profile or text
  chunks), in the image's own format (PNG or JPEG; others become PNG).
- ``blur-text`` / ``pixelate-text``: the boxes of the words Tesseract finds
  (prism_eval/defences/ocr_boxes.py) are blurred / pixelated; ``only=cues`` hides just the words
  an attribute cue spans (what the lexicon's rules read), ``pad`` widens each box (pixels,
  default 3), ``radius`` (blur) and ``block`` (pixelate, pixels) set the strength (default:
  from the box height). The share of the image's area hidden is recorded.
- ``downscale``: at most ``max_side`` pixels on the long side (default 160) and re-encoded as a
  JPEG of ``quality`` (default 40): small text becomes unreadable, the scene stays.
- ``remove-image``: the post keeps its text and loses its picture.
"""
from __future__ import annotations

import io

from prism_core.errors import PrismError

from .base import Defence, ImageOutcome

__all__ = ["StripMetadata", "BlurText", "PixelateText", "Downscale", "RemoveImage"]


def _open(data: bytes):
    from PIL import Image
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def _encode(im, fmt: str | None, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.convert("RGB").save(buf, format="JPEG", quality=int(quality))
    else:
        im.save(buf, format="PNG")
    return buf.getvalue()


def _pixels_only(im):
    """A new image holding only ``im``'s pixels (no info, EXIF or ICC profile)."""
    from PIL import Image
    mode = im.mode if im.mode in ("1", "L", "LA", "RGB", "RGBA", "P") else "RGBA"
    src = im.convert(mode) if mode != im.mode else im
    out = Image.new(mode, src.size)
    if mode == "P":
        out.putpalette(src.getpalette())
    out.paste(src)
    return out


class StripMetadata(Defence):
    name = "strip-metadata"
    channel = "image"

    def image(self, data: bytes) -> ImageOutcome:
        try:
            im = _open(data)
        except Exception:  # unreadable stays as it is (the chain records it as unreadable)
            return ImageOutcome(data)
        fmt = "JPEG" if im.format == "JPEG" else "PNG"
        return ImageOutcome(_encode(_pixels_only(im), fmt, quality=95))


class _HideText(Defence):
    channel = "image"

    def __init__(self, only: str = "all", pad: int = 3, **options):
        if only not in ("all", "cues"):
            raise PrismError(f"{self.name}: only must be all or cues, not {only!r}")
        super().__init__(only=only, pad=int(pad), **options)
        self.only, self.pad = only, int(pad)
        self.ocr = _engine()

    def describe(self) -> dict:
        return {**super().describe(), "ocr": self.ocr.version}

    def _boxes(self, data: bytes) -> list[tuple[int, int, int, int]]:
        from .ocr_boxes import cue_regions, ocr_words
        if self.only == "cues":
            return [r.box for r in cue_regions(data, self.ocr, weak=True)]
        return [w.box for w in ocr_words(data, self.ocr) if any(ch.isalnum() for ch in w.text)]

    def _hide(self, im, box):
        raise NotImplementedError

    def image(self, data: bytes) -> ImageOutcome:
        boxes = self._boxes(data)
        if not boxes:
            return ImageOutcome(data)
        from PIL import Image, ImageDraw
        im = _open(data)
        fmt = "JPEG" if im.format == "JPEG" else "PNG"
        im = _pixels_only(im).convert("RGBA" if "A" in im.mode else "RGB")
        mask = Image.new("1", im.size, 0)
        draw = ImageDraw.Draw(mask)
        for x0, y0, x1, y1 in boxes:
            box = (max(0, x0 - self.pad), max(0, y0 - self.pad), min(im.width, x1 + self.pad),
                   min(im.height, y1 + self.pad))
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            im.paste(self._hide(im.crop(box), box), box[:2])
            draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=1)
        hidden = sum(mask.getdata()) / (im.width * im.height)
        return ImageOutcome(_encode(im, fmt, quality=95), round(hidden, 6))


class BlurText(_HideText):
    name = "blur-text"

    def __init__(self, only: str = "all", pad: int = 3, radius: float | None = None):
        super().__init__(only, pad, **({"radius": radius} if radius else {}))
        self.radius = radius

    def _hide(self, crop, box):
        from PIL import ImageFilter
        radius = self.radius or max(4.0, (box[3] - box[1]) / 2)
        # several passes: one Gaussian pass of a small crop still leaves strokes readable
        for _ in range(3):
            crop = crop.filter(ImageFilter.GaussianBlur(radius))
        return crop


class PixelateText(_HideText):
    name = "pixelate-text"

    def __init__(self, only: str = "all", pad: int = 3, block: int | None = None):
        super().__init__(only, pad, **({"block": block} if block else {}))
        self.block = block

    def _hide(self, crop, box):
        from PIL import Image
        block = self.block or max(6, (box[3] - box[1]) // 2)
        small = crop.resize((max(1, crop.width // block), max(1, crop.height // block)),
                            Image.BILINEAR)
        return small.resize(crop.size, Image.NEAREST)


class Downscale(Defence):
    name = "downscale"
    channel = "image"

    def __init__(self, max_side: int = 160, quality: int = 40):
        if int(max_side) < 8 or not 1 <= int(quality) <= 95:
            raise PrismError("downscale: max_side >= 8 and 1 <= quality <= 95")
        super().__init__(max_side=int(max_side), quality=int(quality))
        self.max_side, self.quality = int(max_side), int(quality)

    def image(self, data: bytes) -> ImageOutcome:
        from PIL import Image
        try:
            im = _pixels_only(_open(data)).convert("RGB")
        except Exception:
            return ImageOutcome(data)
        scale = self.max_side / max(im.size)
        if scale < 1:
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                           Image.LANCZOS)
        return ImageOutcome(_encode(im, "JPEG", self.quality))


class RemoveImage(Defence):
    name = "remove-image"
    channel = "image"

    def image(self, data: bytes) -> ImageOutcome:
        return ImageOutcome(None)


def _engine():
    from .ocr_boxes import require_engine
    return require_engine()
