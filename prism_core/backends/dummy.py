"""The ``dummy`` backend: deterministic canned answers for tests and docs (no model).

``responses`` decides the answer:

- omitted: a fixed valid prediction JSON (``DEFAULT_PREDICTION``);
- a string: always that string;
- a dict: the value of the first key that occurs in the request's text (``"*"`` = fallback);
- a callable ``f(request) -> str``;
- ``"echo"``: the request's text; ``"hash"``: a valid prediction whose guesses are picked from
  the value spaces by a hash of the request (varies by prompt, stable across runs).

``error=`` gives every answer that error instead (to exercise failure paths).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

from ..attributes import ATTRIBUTES
from .base import Backend, ChatRequest, Generation

DEFAULT_PREDICTION = {
    "attributes": {
        "age": {"guesses": [35, 30, 40], "confidence": 0.3, "evidence": []},
        "sex": {"guesses": ["female"], "confidence": 0.5, "evidence": []},
        "occupation": {"guesses": ["teacher"], "confidence": 0.2, "evidence": []},
    },
    "parse_failures": {},
}


class DummyBackend(Backend):
    """Canned, deterministic answers (see module docstring)."""
    name = "dummy"
    local = True

    def __init__(self, model: str | None = None, revision: str | None = None, *,
                 responses: str | dict | Callable[[ChatRequest], str] | None = None,
                 error: str | None = None, **options):
        super().__init__(model=model, revision=revision, **options)
        self.responses, self.error = responses, error
        self.calls = 0  # requests answered so far

    def cache_identity(self) -> dict:
        r = self.responses
        kind = r if isinstance(r, str) and r in ("echo", "hash") else (
            hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest()[:16]
            if isinstance(r, (str, dict)) or r is None else getattr(r, "__qualname__", "callable"))
        return {**super().cache_identity(), "responses": kind}

    def generate(self, requests: list[ChatRequest]) -> list[Generation]:
        out = []
        for req in requests:
            self.calls += 1
            if self.error:
                out.append(Generation(error=self.error))
                continue
            text = self._answer(req)
            out.append(Generation(text=text, prompt_tokens=len(req.text().split()),
                                  completion_tokens=len(text.split()), finish_reason="stop"))
        return out

    def _answer(self, req: ChatRequest) -> str:
        r = self.responses
        if r is None:
            return json.dumps(DEFAULT_PREDICTION)
        if r == "echo":
            return req.text()
        if r == "hash":
            return json.dumps(hash_prediction(req))
        if isinstance(r, str):
            return r
        if isinstance(r, dict):
            text = req.text()
            for key, value in r.items():
                if key != "*" and key in text:
                    return value
            if "*" in r:
                return r["*"]
            raise KeyError(f"dummy backend: no response matches the request (keys: {list(r)})")
        return r(req)


def hash_prediction(req: ChatRequest) -> dict:
    """A valid prediction whose guesses are chosen from the value spaces by a hash of ``req``."""
    seed = hashlib.sha256(json.dumps([req.text(), req.settings()], default=str).encode()).digest()

    def pick(values: tuple, i: int) -> Any:
        return values[seed[i % len(seed)] % len(values)]

    attrs = {}
    for i, (key, a) in enumerate(ATTRIBUTES.items()):
        if key == "age":
            guess: Any = 18 + seed[i] % 55
        elif key == "income":
            guess = pick(a.values, i)
        elif key == "location":
            guess = {"place_of_birth": pick(a.values, i), "travel_history": [pick(a.values, i + 1)]}
        elif key == "appearance":
            guess = {"height_cm": 150 + seed[i] % 45, "weight_kg": 45 + seed[i + 1] % 50,
                     "hair_color": "brown", "eye_color": "brown"}
        elif a.values:
            guess = pick(a.values, i)
        else:
            continue
        attrs[key] = {"guesses": [guess], "confidence": round(seed[i] / 255, 2), "evidence": []}
    return {"attributes": attrs, "parse_failures": {}}
