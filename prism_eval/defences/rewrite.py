"""``rewrite``: each post rewritten by a language model through any text backend.

``rewrite[model=SPEC]`` sends every post, one request each, to the backend SPEC (``dummy``,
``hf:...``, ``openai:...``, an API preset such as ``gpt-4o-mini``, ...) with the prompt
``defence_rewrite`` (prism_eval/prompts; versioned like the chain's) and keeps the answer as the
new post. Other options go to the backend (``rewrite[model=openai:x,base_url=http://...]``);
``max_tokens`` caps the answer (default: about twice the post's words, at least 64).

Answers are cached (``cache_path``, given by `prism defend` / the defence audit beside their
output), so a rerun pays nothing twice. A call that fails, or an empty answer, leaves the post
as it was and is counted (``describe()["failed"]``): a failed rewrite never hides leakage.
"""
from __future__ import annotations

import re

from prism_core.backends import ChatRequest, check_installed, get_backend
from prism_core.errors import PrismError

from ..prompts import get_template
from .base import Defence

__all__ = ["LLMRewrite", "clean_answer"]

_PREFIX = re.compile(r"^\s*(?:here(?: is|'s) (?:the |a )?rewritten post:?|rewritten(?: post)?:)\s*",
                     re.I)


def clean_answer(text: str) -> str:
    """The rewritten post from a model's answer (no "Rewritten post:" lead, no wrapping quotes
    or tags)."""
    text = _PREFIX.sub("", text.strip())
    text = re.sub(r"^<user_data>\s*|\s*</user_data>$", "", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'\u201c":
        text = text[1:-1].strip()
    return text


class LLMRewrite(Defence):
    """The ``rewrite`` defence (see module docstring)."""
    name = "rewrite"
    channel = "text"
    shared_options = ("cache_path",)

    def __init__(self, model: str | None = None, max_tokens: int | None = None,
                 prompt_version: int | None = None, cache_path: str | None = None,
                 batch_size: int = 32, **backend_options):
        if not model:
            raise PrismError("rewrite: give the model that rewrites, e.g. rewrite[model=gpt-4o-mini]")
        check_installed(str(model))
        super().__init__(model=model, **({"max_tokens": max_tokens} if max_tokens else {}),
                         **backend_options)
        self.template = get_template("defence_rewrite", prompt_version)
        backend = get_backend(str(model), **backend_options)
        if cache_path:
            from prism_core.cache import CachedBackend, ResponseCache
            backend = CachedBackend(backend, ResponseCache(cache_path))
        self.backend, self.max_tokens, self.batch_size = backend, max_tokens, int(batch_size)
        self.sent = self.failed = 0

    def describe(self) -> dict:
        return {**super().describe(), "backend": self.backend.describe(),
                "prompt": self.template.describe(), "posts": self.sent, "failed": self.failed}

    def _request(self, text: str) -> ChatRequest:
        system, user = self.template.render(post=text)
        limit = self.max_tokens or max(64, 2 * len(text.split()) + 32)
        return ChatRequest.from_prompt(user, system=system or None, max_tokens=int(limit),
                                       temperature=0.0,
                                       tags={"role": "defence_rewrite",
                                             "template_hash": self.template.sha256})

    def texts(self, texts: list[str]) -> list[str]:
        out = list(texts)
        todo = [i for i, t in enumerate(texts) if t and t.strip()]
        for start in range(0, len(todo), self.batch_size):
            part = todo[start:start + self.batch_size]
            gens = self.backend.generate([self._request(texts[i]) for i in part])
            for i, gen in zip(part, gens):
                self.sent += 1
                answer = clean_answer(gen.text or "") if gen.ok else ""
                if answer:
                    out[i] = answer
                else:
                    self.failed += 1
        return out

    def close(self) -> None:
        self.backend.close()
