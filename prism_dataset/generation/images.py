"""Stage Image: image backends that turn a caption into encoded image bytes.

``none`` makes no images; ``placeholder`` (offline, Pillow) draws a simple labelled scene from
the caption; ``diffusers`` runs any text-to-image pipeline by model id or local path. All are
seeded per post, so the same seed gives the same image. Diffusers images are kept in an
on-disk cache (``cache_dir``) so an interrupted run does not render them again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import textwrap
from pathlib import Path

from prism_core.images import png_bytes

from .settings import IMAGE_BACKENDS, GenerationError

__all__ = ["get_image_backend", "image_seed", "NoImages", "PlaceholderImages", "DiffusersImages",
           "IMAGE_BACKENDS"]

log = logging.getLogger(__name__)


def image_seed(seed: int, user: int, post_id: str) -> int:
    """The seed of one post's image (32 bits, from the dataset seed, user index and post id)."""
    digest = hashlib.sha256(f"prism:{seed}:{user}:{post_id}:image".encode()).hexdigest()
    return int(digest[:8], 16)



class NoImages:
    """No pictures: posts keep ``image=None``."""
    name, model = "none", None

    def render(self, caption: str, seed: int) -> bytes | None:
        return None


_COLOURS = {"black": (25, 25, 28), "brown": (110, 70, 40), "blonde": (230, 200, 120),
            "blond": (230, 200, 120), "red": (190, 60, 30), "ginger": (200, 90, 40),
            "gray": (150, 150, 150), "grey": (150, 150, 150), "white": (240, 240, 240),
            "blue": (60, 110, 200), "green": (60, 150, 80), "hazel": (140, 110, 60)}
_INDOOR = ("room", "kitchen", "desk", "office", "table", "clinic", "classroom", "studio", "shelf",
           "mirror", "bedroom", "monitor", "laptop", "wall", "counter", "workbench", "lab ")
_PERSON = ("selfie", "person", "someone", "man ", "woman", "guy", "lady", "parent", "teenager",
           "couple", "people", "hands")


class PlaceholderImages:
    """Offline pictures: a simple scene (sky or room, shapes, a figure) labelled with the caption."""
    name, model = "placeholder", None

    def __init__(self, size: int = 256):
        self.size = int(size)

    def render(self, caption: str, seed: int) -> bytes:
        from PIL import Image, ImageDraw, ImageFont
        rng = random.Random(seed)
        s = self.size
        text = caption.lower()
        im = Image.new("RGB", (s, s))
        d = ImageDraw.Draw(im)
        horizon = int(s * rng.uniform(0.5, 0.62))
        if any(w in text for w in _INDOOR):
            wall = tuple(rng.randint(170, 235) for _ in range(3))
            d.rectangle([0, 0, s, horizon], fill=wall)
            d.rectangle([0, horizon, s, s], fill=(120 + rng.randint(0, 40), 90, 60))
            d.rectangle([s // 8, horizon - s // 10, s * 7 // 8, horizon], fill=(90, 60, 40))
        else:
            night = any(w in text for w in ("night", "candle", "dusk"))
            sky = (20, 30, 70) if night else (
                (240, 160, 90) if any(w in text for w in ("sunset", "sunrise", "golden")) else
                (120 + rng.randint(0, 40), 170 + rng.randint(0, 40), 230))
            d.rectangle([0, 0, s, horizon], fill=sky)
            sandy = any(w in text for w in ("beach", "dune", "desert", "gobi"))
            ground = (220, 200, 140) if sandy else (70 + rng.randint(0, 30), 140, 70)
            d.rectangle([0, horizon, s, s], fill=ground)
            cx = rng.randint(s // 6, s * 5 // 6)
            d.ellipse([cx - s // 14, s // 10, cx + s // 14, s // 10 + s // 7],
                      fill=(240, 240, 210) if night else (250, 220, 80))
            for _ in range(rng.randint(1, 3)):  # hills, towers or trees
                x = rng.randint(0, s)
                w, h = rng.randint(s // 10, s // 4), rng.randint(s // 8, s // 3)
                colour = tuple(rng.randint(60, 140) for _ in range(3))
                if any(k in text for k in ("mountain", "trail", "ridge", "fuji", "peak", "hill")):
                    d.polygon([(x - w, horizon), (x, horizon - h), (x + w, horizon)], fill=colour)
                else:
                    d.rectangle([x - w // 2, horizon - h, x + w // 2, horizon], fill=colour)
        if any(w in text for w in _PERSON):
            self._figure(d, s, horizon, text, rng)
        self._label(d, s, caption, ImageFont)
        return png_bytes(im, compress_level=3)  # flat colours: fast and still small

    @staticmethod
    def _figure(d, s, horizon, text, rng) -> None:
        cx, top = rng.randint(s // 3, s * 2 // 3), horizon - s // 3
        hair = re.search(r"(\w+) hair", text)
        eyes = re.search(r"(\w+) eyes", text)
        r = s // 12
        d.rectangle([cx - r, top + 2 * r, cx + r, horizon + s // 12], fill=(70, 90, 150))
        d.ellipse([cx - r, top, cx + r, top + 2 * r], fill=(225, 185, 150))
        if hair and hair.group(1) in _COLOURS:
            d.chord([cx - r - 2, top - 3, cx + r + 2, top + r], 180, 360,
                    fill=_COLOURS[hair.group(1)])
        eye = _COLOURS.get(eyes.group(1), (40, 30, 20)) if eyes else (40, 30, 20)
        for dx in (-r // 2, r // 2):
            d.ellipse([cx + dx - 2, top + r - 2, cx + dx + 2, top + r + 2], fill=eye)
        if "beard" in text:
            d.chord([cx - r, top + r, cx + r, top + 2 * r + 3], 0, 180, fill=(60, 40, 30))

    @staticmethod
    def _label(d, s, caption, ImageFont) -> None:
        try:
            font = ImageFont.load_default(size=max(9, s // 24))
        except TypeError:  # Pillow < 10.1 has one bitmap size
            font = ImageFont.load_default()
        per_line = max(12, int(s / max(5, s // 40)))
        lines = textwrap.wrap(caption, per_line)[:4]
        line_h = max(10, s // 20)
        top = s - line_h * len(lines) - 6
        d.rectangle([0, top - 2, s, s], fill=(255, 255, 255))
        for i, line in enumerate(lines):
            d.text((4, top + i * line_h), line, fill=(0, 0, 0), font=font)


class DiffusersImages:
    """Any ``diffusers`` text-to-image pipeline (model id or local path), seeded per post.

    Options: ``steps`` (default 25), ``guidance_scale`` (7.0), ``negative_prompt``, ``device``
    ("auto": CUDA when present), ``dtype`` ("auto": float16 on CUDA, else float32).
    """
    name = "diffusers"

    def __init__(self, model: str, size: int = 512, options: dict | None = None,
                 cache_dir: str | None = None):
        if not model:
            raise GenerationError("the diffusers image backend needs image_model (a model id "
                                  "or a local pipeline folder)")
        self.model, self.size = model, int(size)
        options = dict(options or {})
        self.steps = int(options.pop("steps", 25))
        self.guidance = float(options.pop("guidance_scale", 7.0))
        self.negative = options.pop("negative_prompt", None)
        self.device = options.pop("device", "auto")
        self.dtype = options.pop("dtype", "auto")
        self.cache = Path(cache_dir) / "images" if cache_dir else None
        self._pipe = None

    def _load(self):
        import torch
        from diffusers import AutoPipelineForText2Image, DiffusionPipeline
        device = ("cuda" if torch.cuda.is_available() else "cpu") if self.device == "auto" \
            else self.device
        dtype = {"auto": torch.float16 if device.startswith("cuda") else torch.float32,
                 "float32": torch.float32, "float16": torch.float16,
                 "bfloat16": torch.bfloat16}[self.dtype]
        import diffusers
        from packaging.version import Version
        # diffusers 0.42 renamed torch_dtype to dtype (the old name is deprecated)
        kw = {"dtype" if Version(diffusers.__version__) >= Version("0.42") else "torch_dtype": dtype}
        try:
            pipe = AutoPipelineForText2Image.from_pretrained(self.model, **kw)
        except ValueError:  # a pipeline class AutoPipeline does not map
            pipe = DiffusionPipeline.from_pretrained(self.model, **kw)
        pipe.set_progress_bar_config(disable=True)
        self._pipe = pipe.to(device)
        return self._pipe

    def _key(self, caption: str, seed: int) -> str:
        material = {"model": self.model, "caption": caption, "seed": seed, "size": self.size,
                    "steps": self.steps, "guidance": self.guidance, "negative": self.negative}
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def render(self, caption: str, seed: int) -> bytes:
        path = self.cache / f"{self._key(caption, seed)}.png" if self.cache else None
        if path is not None and path.is_file():
            return path.read_bytes()
        import torch
        pipe = self._pipe or self._load()
        generator = torch.Generator(device="cpu").manual_seed(seed)
        out = pipe(prompt=caption, negative_prompt=self.negative, height=self.size,
                   width=self.size, num_inference_steps=self.steps,
                   guidance_scale=self.guidance, generator=generator)
        data = png_bytes(out.images[0])
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{random.getrandbits(32)}")
            tmp.write_bytes(data)
            tmp.replace(path)
        return data


def get_image_backend(name: str, model: str | None = None, size: int = 256,
                      options: dict | None = None, cache_dir: str | None = None):
    """The image backend ``name`` (``none``, ``placeholder``, ``diffusers``)."""
    if name == "none":
        return NoImages()
    if name == "placeholder":
        return PlaceholderImages(size)
    if name == "diffusers":
        return DiffusersImages(model, size, options, cache_dir)
    raise GenerationError(f"unknown image backend {name!r} (choose {', '.join(IMAGE_BACKENDS)})")
