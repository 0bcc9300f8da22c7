"""An LLM judge for guesses the scoring rules cannot decide (free-text occupation, shopping
habits, an unknown place of birth): "is guess X the true value Y of attribute A?" -> yes / no /
less precise.

Any backend by name (``LLMJudge("openai:gpt-4o-mini")``) or instance; temperature 0. Verdicts are
kept in memory per (attribute, truth, guess) and, with ``cache=``, on disk through the shared
response cache (prism_core/cache.py), whose key holds the judge model and the prompt's hash, so a
verdict is stored per (truth, guess, judge model, prompt version). ``describe()`` is what scores
record. Off by default: scoring is complete without it (rules only).
"""
from __future__ import annotations

import os
import re
from typing import Any, Iterable

from prism_core.attributes import label_of
from prism_core.backends import Backend, ChatRequest, get_backend
from prism_core.cache import CachedBackend, ResponseCache

from .prompts import get_template

__all__ = ["LLMJudge", "parse_verdict", "VERDICTS"]

VERDICTS = ("yes", "no", "less precise")
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_VERDICT = re.compile(r"\b(less[\s_-]+precise|yes|no)\b", re.I)
_TAG = re.compile(r"</?guess>", re.I)
MAX_GUESS_CHARS = 200


def parse_verdict(text: str | None) -> str | None:
    """The first verdict word in a judge's reply ("Yes." -> "yes"); None when there is none."""
    if not text:
        return None
    m = _VERDICT.search(_THINK.sub("", text))
    if not m:
        return None
    word = m.group(1).lower()
    return "less precise" if word.startswith("less") else word


def _text(value: Any) -> str:
    """The form a truth or guess takes in the prompt and the verdict key: one line, lower case."""
    text = " ".join(_TAG.sub(" ", str(value)).split()).lower()
    return text[:MAX_GUESS_CHARS].strip()


class LLMJudge:
    """Asks a backend whether a guess names the true value; see the module docstring.

    ``backend``: a Backend or a spec such as ``"openai:gpt-4o-mini"`` (``backend_options`` go to
    get_backend). ``prompt_version``: the ``judge.v<N>.txt`` template (latest when None).
    ``cache``: a path or prism_core.cache.ResponseCache for verdicts across runs.
    """

    def __init__(self, backend: str | Backend, *, prompt_version: int | None = None,
                 cache: Any = None, max_tokens: int = 16, **backend_options):
        if isinstance(backend, str):
            backend = get_backend(backend, **backend_options)
        self.backend = backend
        self.identity = self.backend.describe()
        self.template = get_template("judge", prompt_version)
        if cache is not None:
            store = cache if isinstance(cache, ResponseCache) else ResponseCache(os.fspath(cache))
            self.backend = CachedBackend(self.backend, store)
        self.max_tokens = max_tokens
        self.verdicts: dict[tuple[str, str, str], str | None] = {}
        self.requests = 0  # sent to the backend (cache hits included)
        self.failures = 0  # replies without a verdict (scored 0)

    def describe(self) -> dict:
        """The judge's identity as recorded in scores (no secrets)."""
        who = self.identity
        return {"judge_backend": who.get("backend"), "judge_model": who.get("model"),
                "judge_revision": who.get("revision"), "prompt_version": self.template.id,
                "prompt_sha256": self.template.sha256}

    def request(self, attribute: str, truth: str, guess: str) -> ChatRequest:
        label = label_of(attribute)
        system, user = self.template.render(attribute=label, truth=_text(truth), guess=_text(guess))
        tags = {"role": "judge", "template_hash": self.template.sha256}
        return ChatRequest.from_prompt(user, system=system or None, temperature=0.0, seed=0,
                                       max_tokens=self.max_tokens, tags=tags)

    def prefetch(self, items: Iterable[tuple[str, str, str]]) -> None:
        """Ask about every (attribute, truth, guess) not yet decided, in one backend call."""
        todo: dict[tuple[str, str, str], ChatRequest] = {}
        for attribute, truth, guess in items:
            key = (attribute, _text(truth), _text(guess))
            if key not in self.verdicts and key not in todo:
                todo[key] = self.request(*key)
        if not todo:
            return
        generations = list(self.backend.generate(list(todo.values())))
        self.requests += len(todo)
        generations += [None] * (len(todo) - len(generations))  # a backend that answered short
        for key, gen in zip(todo, generations):
            ok = gen is not None and gen.error is None
            verdict = parse_verdict(gen.text) if ok else None
            self.failures += verdict is None
            self.verdicts[key] = verdict

    def verdict(self, attribute: str, truth: str, guess: str) -> str | None:
        """"yes", "no" or "less precise" for one guess; None when the judge gave no verdict."""
        key = (attribute, _text(truth), _text(guess))
        if key not in self.verdicts:
            self.prefetch([key])
        return self.verdicts[key]

    def close(self) -> None:
        self.backend.close()
