"""Defences by name, their option syntax, and a pipeline that composes them.

A defence spec is one or more steps joined by ``+``, each a registered name with optional
options in brackets: ``redact``, ``ner[model=en_core_web_sm]``,
``rewrite[model=openai:gpt-4o-mini]+blur-text``, ``downscale[max_side=256,quality=40]``. Values
are read as JSON when they parse (``weak=true``, ``quality=40``); a list is written with ``|``
(``redact[attributes=age|occupation]``). Steps run in order; text steps see the text the
previous step left, image steps the image.

A defence is a class with ``name``, ``channel`` ("text" or "image") and either
``texts(list[str]) -> list[str]`` (a batch, so that model rewriting batches its calls) or
``image(bytes) -> ImageOutcome``. Register new ones in :data:`REGISTRY` as "module:Class"
(imported when used), with the modules they need and the extra that installs them.
"""
from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from typing import Any

from prism_core.errors import PrismError

__all__ = ["Defence", "ImageOutcome", "Pipeline", "REGISTRY", "parse_spec", "build_pipeline",
           "slug"]


@dataclass
class ImageOutcome:
    """What an image defence did: the new encoded image (None: removed) and the share of the
    image's area it obscured (blurred or pixelated), 0..1."""
    data: bytes | None
    obscured: float = 0.0


class Defence:
    """Base class: options are keyword arguments, recorded by :meth:`describe`."""
    name = "defence"
    channel = "text"

    def __init__(self, **options):
        self.options = options

    def describe(self) -> dict:
        """Name, channel and options; subclasses add the versions of what they use."""
        return {"name": self.name, "channel": self.channel, "options": dict(self.options)}

    def texts(self, texts: list[str]) -> list[str]:
        raise NotImplementedError

    def image(self, data: bytes) -> ImageOutcome:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the defence holds (a model backend)."""


#: name -> ("module:Class", modules it needs, the extra that installs them)
REGISTRY: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "redact": ("prism_eval.defences.text:CueRedaction", (), None),
    "ner": ("prism_eval.defences.ner:NERAnonymisation",
            ("presidio_analyzer", "presidio_anonymizer", "spacy"), "defences"),
    "rewrite": ("prism_eval.defences.rewrite:LLMRewrite", (), None),
    "strip-metadata": ("prism_eval.defences.images:StripMetadata", (), None),
    "blur-text": ("prism_eval.defences.images:BlurText", (), None),
    "pixelate-text": ("prism_eval.defences.images:PixelateText", (), None),
    "downscale": ("prism_eval.defences.images:Downscale", (), None),
    "remove-image": ("prism_eval.defences.images:RemoveImage", (), None),
}

_STEP = re.compile(r"^\s*([a-z][a-z0-9-]*)\s*(?:\[(.*)\])?\s*$", re.S)


def _value(text: str) -> Any:
    text = text.strip()
    if "|" in text:
        return [_value(t) for t in text.split("|") if t.strip()]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _split_steps(spec: str) -> list[str]:
    """``a[x=1+2]+b`` -> ["a[x=1+2]", "b"]: ``+`` inside brackets belongs to the options."""
    out, depth, cur = [], 0, ""
    for ch in spec:
        depth += (ch == "[") - (ch == "]")
        if ch == "+" and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def parse_spec(spec: str) -> list[tuple[str, dict]]:
    """``"redact+downscale[max_side=256]"`` -> [("redact", {}), ("downscale", {"max_side": 256})]."""
    steps = []
    for part in _split_steps(spec):
        m = _STEP.match(part)
        if not m:
            raise PrismError(f"defence {spec!r}: cannot read step {part!r} (expected NAME or "
                             "NAME[KEY=VALUE,...])")
        name, body = m.group(1), m.group(2)
        if name not in REGISTRY:
            import difflib
            hint = difflib.get_close_matches(name, list(REGISTRY), n=1)
            raise PrismError(f"unknown defence {name!r}" + (f"; did you mean {hint[0]!r}?" if hint
                                                             else "")
                             + f" (defences: {', '.join(REGISTRY)})")
        options = {}
        for item in (body or "").split(","):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise PrismError(f"defence {spec!r}: option {item!r} is not KEY=VALUE")
            options[key.strip()] = _value(value)
        steps.append((name, options))
    if not steps:
        raise PrismError("empty defence spec")
    return steps


def slug(spec: str) -> str:
    """A folder name for a spec: ``rewrite[model=openai:x]+blur-text`` -> ``rewrite-model-openai-x+blur-text``."""
    return re.sub(r"[^A-Za-z0-9.+_-]+", "-", spec.replace("[", "-").replace("]", "")).strip("-")


def _check_installed(name: str) -> None:
    import importlib.util
    _, requires, extra = REGISTRY[name]
    missing = [m for m in requires if importlib.util.find_spec(m) is None]
    if missing:
        raise PrismError(f"defence {name!r} needs {', '.join(missing)}, not installed: pip "
                         f"install 'prism-privacy[{extra}]' (in a clone: pip install -c "
                         f"constraints.txt -e '.[{extra}]')")


def build(name: str, options: dict) -> Defence:
    _check_installed(name)
    module, _, cls = REGISTRY[name][0].partition(":")
    try:
        return getattr(importlib.import_module(module), cls)(**options)
    except TypeError as exc:
        raise PrismError(f"defence {name!r}: {exc}") from None


class Pipeline:
    """Defence steps applied in order (see the module docstring); ``spec`` names it."""

    def __init__(self, spec: str, steps: list[Defence]):
        self.spec, self.steps = spec, steps

    @property
    def text_steps(self) -> list[Defence]:
        return [s for s in self.steps if s.channel == "text"]

    @property
    def image_steps(self) -> list[Defence]:
        return [s for s in self.steps if s.channel == "image"]

    def texts(self, texts: list[str]) -> list[str]:
        for step in self.text_steps:
            if texts:
                texts = step.texts(list(texts))
        return texts

    def image(self, data: bytes) -> ImageOutcome:
        """The image after every image step; ``obscured`` is the largest share any step hid."""
        out = ImageOutcome(data)
        for step in self.image_steps:
            if out.data is None:
                break
            res = step.image(out.data)
            out = ImageOutcome(res.data, max(out.obscured, res.obscured))
        return out

    def describe(self) -> dict:
        return {"spec": self.spec, "steps": [s.describe() for s in self.steps]}

    def close(self) -> None:
        for s in self.steps:
            s.close()


def build_pipeline(spec: str | Pipeline, **shared) -> Pipeline:
    """A Pipeline from a spec; ``shared`` options (e.g. ``cache_dir``) go to every step that
    accepts them."""
    if isinstance(spec, Pipeline):
        return spec
    steps = []
    for name, options in parse_spec(spec):
        cls_opts = {**{k: v for k, v in shared.items() if k in _accepts(name)}, **options}
        steps.append(build(name, cls_opts))
    return Pipeline(spec, steps)


def _accepts(name: str) -> tuple[str, ...]:
    module, _, cls = REGISTRY[name][0].partition(":")
    return tuple(getattr(getattr(importlib.import_module(module), cls), "shared_options", ()))
