"""The backend interface (list in, list out) and the lazy registry of backends by name.

A :class:`ChatRequest` is OpenAI-style messages whose content is text or a list of parts
``{"type": "text", "text": ...}`` / ``{"type": "image", "image": <encoded image bytes>}`` plus
generation settings; ``tags`` (role, template hash, user id) travel with the request for the cache
and logs but are never sent to a model. A :class:`Generation` is the answer: text, token counts,
latency and an error string instead of an exception.

Two ways to call a backend: ``generate(list)`` (every backend; local ones batch the list) and,
for backends whose ``async_submit`` is true (API backends), ``await asubmit(request)`` one request
at a time on an event loop inside ``async with backend.session()`` (one client and one
concurrency limit for the whole loop), so that a caller can keep every slot busy without batches.
"""
from __future__ import annotations

import asyncio
import contextlib
import difflib
import hashlib
import importlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..errors import PrismError
from ..images import encoded_bytes

__all__ = ["ChatRequest", "Generation", "Backend", "register_backend", "get_backend",
           "check_installed", "MissingExtra",
           "available_backends", "parse_model_spec", "image_part", "text_part", "UnknownBackend",
           "request_images", "schema_hash"]


def text_part(text: str) -> dict:
    return {"type": "text", "text": text}


def image_part(image: Any) -> dict:
    """An image part from encoded bytes, a datasets Image value, a file path or a PIL image."""
    data = encoded_bytes(image)
    if data is None:
        raise TypeError("cannot make an image part from None")
    return {"type": "image", "image": data}


@dataclass
class ChatRequest:
    """One chat call: messages (text and image parts) + generation settings + tags (not sent)."""
    messages: list[dict]
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    response_format: str | None = None  # "json" asks for a JSON object where the backend can
    #: With ``response_format="json"``: the JSON schema of the answer, enforced where the backend
    #: can (hf with llguidance, vLLM structured outputs, OpenAI ``json_schema``).
    json_schema: dict | None = None
    tags: dict = field(default_factory=dict)

    @classmethod
    def from_prompt(cls, user: str, system: str | None = None, images: list | None = None,
                    **settings) -> "ChatRequest":
        """A request from a user text, an optional system text and optional images."""
        messages = [{"role": "system", "content": system}] if system else []
        if images:
            content = [image_part(i) for i in images] + [text_part(user)]
        else:
            content = user
        messages.append({"role": "user", "content": content})
        return cls(messages=messages, **settings)

    def settings(self) -> dict:
        """Generation settings (everything that changes the output except the messages).

        A JSON schema appears as its sha256 (only when set, so requests without one keep their
        cache keys)."""
        out = {"max_tokens": self.max_tokens, "temperature": self.temperature,
               "top_p": self.top_p, "seed": self.seed, "stop": self.stop,
               "response_format": self.response_format}
        if self.json_schema is not None:
            out["json_schema"] = schema_hash(self.json_schema)
        return out

    def text(self) -> str:
        """All text of the messages joined, images left out (for text-only consumers)."""
        out = []
        for m in self.messages:
            content = m["content"]
            if isinstance(content, str):
                out.append(content)
            else:
                out.extend(p["text"] for p in content if p.get("type") == "text")
        return "\n".join(out)


def schema_hash(schema: dict) -> str:
    """A short stable digest of a JSON schema (cache keys and batching)."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def request_images(request: ChatRequest) -> list[bytes]:
    """Encoded image bytes of a request, in message order."""
    return [p["image"] for m in request.messages if not isinstance(m["content"], str)
            for p in m["content"] if p.get("type") == "image"]


@dataclass
class Generation:
    """A backend's answer to one request; ``error`` is set instead of raising."""
    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None
    cached: bool = False
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return asdict(self)


class Backend:
    """Base class: subclasses implement :meth:`generate` over a list of requests.

    ``local`` backends run stage by stage in batches; API backends run requests concurrently.
    ``model_id`` and ``revision`` identify what answered, for the cache and the results.
    ``reads_images`` says whether the model sees image parts (the chain skips the image calls of
    a backend that does not, and records the image channel as not measured).
    """
    name: str = "base"
    local: bool = True
    reads_images: bool = True
    #: True where single requests submitted on an event loop (:meth:`asubmit`) run concurrently
    #: under the backend's own limit, so batching gains nothing (API backends): the runner then
    #: lets users flow through the chain's stages without barriers.
    async_submit: bool = False

    def __init__(self, model: str | None = None, revision: str | None = None, **options):
        self.model_id = model or self.name
        self.revision = revision
        self.options = options

    def generate(self, requests: list[ChatRequest]) -> list[Generation]:
        raise NotImplementedError

    async def asubmit(self, request: ChatRequest) -> Generation:
        """One request from a running event loop. The default runs :meth:`generate` on a worker
        thread; ``async_submit`` backends override it to share :meth:`session`'s client."""
        [gen] = await asyncio.to_thread(self.generate, [request])
        return gen

    def session(self) -> contextlib.AbstractAsyncContextManager:
        """``async with backend.session():`` holds what :meth:`asubmit` calls on this event loop
        share (an API client, its concurrency limit) until the block ends; nothing by default."""
        return contextlib.nullcontext(self)

    def describe(self) -> dict:
        """What to record in results: backend, model id, revision (never secrets)."""
        return {"backend": self.name, "model": self.model_id, "revision": self.revision}

    def cache_identity(self) -> dict:
        """What besides the request decides the answer (cache key part; never secrets).

        Subclasses add options that change outputs, e.g. the hf image size limits or the API URL.
        """
        return {"backend": self.name, "model": self.model_id, "revision": self.revision}

    def not_measured(self) -> dict[str, str]:
        """Channels ("image", "text") this backend answers without reading, with the reason
        (e.g. an OCR attacker whose OCR engine is not installed); empty when it reads all."""
        return {}

    def close(self) -> None:
        """Release resources (connections, GPU memory)."""


# ------------------------------------------------------------------------ registry

_REGISTRY: dict[str, str] = {}
_REQUIRES: dict[str, tuple[tuple[str, ...], str | None]] = {}


class UnknownBackend(PrismError, KeyError):
    """A backend name that is not registered (the message suggests the closest one)."""

    def __str__(self) -> str:
        return self.args[0]


class MissingExtra(PrismError, ImportError):
    """A backend whose optional dependencies are not installed (names the install command)."""


def register_backend(name: str, target: str | Callable, *, requires: tuple[str, ...] = (),
                     extra: str | None = None) -> None:
    """Register ``name`` -> "module:Class" (imported only when built) or a class/factory;
    ``requires`` names the modules it imports and ``extra`` the package extra that installs them."""
    _REGISTRY[name] = target
    _REQUIRES[name] = (tuple(requires), extra)


def _findable(module: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):  # e.g. sys.modules[module] = None
        return False


def check_installed(spec: str) -> None:
    """Raise a PrismError naming the install command when the backend of ``spec`` needs modules
    that are not installed (checked without importing them, before any work starts)."""
    name, _ = parse_model_spec(spec)
    requires, extra = _REQUIRES.get(name, ((), None))
    missing = [m for m in requires if not _findable(m)]
    if missing:
        how = (f"pip install 'prism-privacy[{extra}]' (in a clone: pip install -c "
               f"constraints.txt -e '.[{extra}]')" if extra else f"pip install {' '.join(missing)}")
        raise MissingExtra(f"backend {name!r} ({spec}) needs {', '.join(missing)}, not installed: "
                           f"{how}")


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def _resolve(name: str):
    if name not in _REGISTRY:
        hint = difflib.get_close_matches(name, list(_REGISTRY), n=1, cutoff=0.5)
        msg = f"unknown backend {name!r}"
        msg += f"; did you mean {hint[0]!r}?" if hint else ""
        raise UnknownBackend(msg + f" (available: {', '.join(available_backends())})")
    target = _REGISTRY[name]
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
    return target


def parse_model_spec(spec: str) -> tuple[str, str | None]:
    """"backend:model" -> (backend, model); a bare registered name -> (name, None).

    A bare name that is not a backend is looked up in the API presets (e.g. "gpt-4o").
    """
    backend, sep, model = spec.partition(":")
    if sep and backend in _REGISTRY:
        return backend, model or None
    if spec in _REGISTRY:
        return spec, None
    presets = importlib.import_module("prism_core.backends.presets")
    if presets.find_preset(spec) is not None:
        return "openai", spec
    _resolve(backend if sep else spec)  # raises UnknownBackend with a suggestion
    return backend, model or None


def get_backend(spec: str, **options) -> Backend:
    """Build a backend from "name" or "name:model" (e.g. "hf:Qwen/Qwen2.5-VL-7B-Instruct")."""
    name, model = parse_model_spec(spec)
    check_installed(spec)
    cls = _resolve(name)
    if model is not None:
        options.setdefault("model", model)
    return cls(**options)
