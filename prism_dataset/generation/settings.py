"""What a synthetic build needs to know, read from a ``PrismConfig`` (or any object with the
same fields) and checked once, with errors that name the option."""
from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from prism_core.errors import PrismError

__all__ = ["GenerationError", "GenerationSettings", "GENERATION_KEYS"]

#: keys of ``backend_options["text"]`` that are generation settings, not backend options
GENERATION_KEYS = ("temperature", "top_p", "max_tokens", "batch_users")


def _default_cache() -> str:
    root = os.environ.get("PRISM_CACHE_DIR") or Path("~/.cache/prism").expanduser()
    return str(Path(root) / "generation")


GENERATOR_VERSION = "1.0.0"
IMAGE_BACKENDS = ("none", "placeholder", "diffusers")

class GenerationError(PrismError, ValueError):
    """A synthetic-generation option or backend that cannot work (shown as one line)."""


@dataclass(frozen=True)
class GenerationSettings:
    """``backend_options``: {"text": {...}, "image": {...}}. Text options go to the model backend
    (e.g. ``base_url``, ``device``), except ``temperature``, ``top_p``, ``max_tokens`` and
    ``batch_users`` (users per batch of model calls); image options go to the diffusers backend
    (``steps``, ``guidance_scale``, ``device``, ...)."""
    seed: int = 0
    prior: str = "default"
    posts_per_user: int = 3
    text_backend: str = "template"
    text_model: str | None = None
    image_backend: str = "placeholder"
    image_model: str | None = None
    image_size: int = 256
    cache_dir: str | None = None
    text_options: dict = field(default_factory=dict)
    image_options: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config) -> "GenerationSettings":
        options = dict(getattr(config, "backend_options", None) or {})
        unknown = set(options) - {"text", "image"}
        if unknown:
            raise GenerationError(f"backend_options: unknown key(s) {sorted(unknown)}; use "
                                  f"{{'text': {{...}}, 'image': {{...}}}}")
        for part in ("text", "image"):
            if not isinstance(options.get(part, {}), dict):
                raise GenerationError(f"backend_options[{part!r}] must be a dict")
        # a field with a plain default is read from the config attribute of the same name (the
        # default when absent); the config names cache_dir generation_cache_dir, and
        # text_options/image_options come from backend_options
        values = {f.name: getattr(config, f.name, f.default) for f in fields(cls)
                  if f.default is not MISSING and f.name != "cache_dir"}
        values["prior"] = str(values["prior"])
        s = cls(**values,
                cache_dir=getattr(config, "generation_cache_dir", None) or _default_cache(),
                text_options=dict(options.get("text", {})),
                image_options=dict(options.get("image", {})))
        if isinstance(s.seed, bool) or not isinstance(s.seed, int) or s.seed < 0:
            raise GenerationError(f"seed must be a non-negative integer, got {s.seed!r}")
        if not isinstance(s.posts_per_user, int) or not 1 <= s.posts_per_user <= 12:
            raise GenerationError(f"posts_per_user must be 1-12, got {s.posts_per_user!r}")
        if s.image_backend not in IMAGE_BACKENDS:
            raise GenerationError(f"image_backend must be one of {', '.join(IMAGE_BACKENDS)}, "
                                  f"got {s.image_backend!r}")
        if not isinstance(s.image_size, int) or not 16 <= s.image_size <= 4096:
            raise GenerationError(f"image_size must be 16-4096 pixels, got {s.image_size!r}")
        if not isinstance(s.text_backend, str) or not s.text_backend:
            raise GenerationError(f"text_backend must be a name, got {s.text_backend!r}")
        if s.text_backend == "template" and s.text_model:
            raise GenerationError(f"text_model {s.text_model!r} needs a model text_backend "
                                  f"(hf or openai); the template backend uses no model")
        if s.image_backend != "diffusers" and s.image_model:
            raise GenerationError(f"image_model {s.image_model!r} needs image_backend "
                                  f"'diffusers', not {s.image_backend!r}")
        return s
