"""Constrained JSON decoding for local ``transformers`` models, with llguidance.

When a request asks for JSON (``response_format="json"``), the ``hf`` backend adds a logits
processor that masks, at every step, the tokens that cannot continue an answer valid under the
request's JSON schema (:func:`prism_core.prediction.answer_schema` for the chain's agents; a bare
JSON object when the request has no schema). Greedy and sampled decoding both keep working: the
model still chooses among the allowed tokens.

Why llguidance: it is a maintained library made for exactly this (the engine behind vLLM's
``guidance`` structured-output backend and llama.cpp's grammars), a single wheel with no Python
dependencies, computes a token mask from a JSON schema in well under a millisecond per token, and
works with transformers 5 through its tokenizer (``llguidance.hf.from_tokenizer``). Of the other
candidates that install here, lm-format-enforcer 0.11's transformers integration does not import
under transformers 5 (it imports the removed ``transformers.tokenization_utils``), and outlines
and xgrammar pull in many more dependencies for the same job.
"""
from __future__ import annotations

import json
import logging
from functools import lru_cache

from transformers import LogitsProcessor

from ..errors import PrismError

logger = logging.getLogger(__name__)

__all__ = ["available", "JSONConstraint", "GrammarLogitsProcessor", "ANY_OBJECT", "INSTALL_HINT"]

#: The schema enforced when a request asks for JSON without giving a schema.
ANY_OBJECT = {"type": "object"}
INSTALL_HINT = "pip install 'llguidance>=1.3'"
#: Compact JSON in the form the prompts show: ``{"age": {"guesses": [..], ...}, ...}``.
_JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def available() -> bool:
    """Whether llguidance imports here."""
    try:
        import llguidance  # noqa: F401
        import llguidance.hf  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str | None:
    try:
        from importlib.metadata import version as v
        return v("llguidance")
    except Exception:
        return None


@lru_cache(maxsize=64)
def _grammar(schema_text: str) -> str:
    import llguidance
    return llguidance.LLMatcher.grammar_from_json_schema(schema_text, defaults=_JSON_OPTIONS)


class JSONConstraint:
    """One tokenizer's JSON-schema enforcer: builds a logits processor per generate() call."""

    def __init__(self, tokenizer, eos_ids: set[int]):
        if not available():
            raise PrismError(f"constrained decoding needs llguidance: {INSTALL_HINT}")
        import llguidance.hf
        eos = sorted(eos_ids) if eos_ids else None
        self.tokenizer = llguidance.hf.from_tokenizer(tokenizer, eos_token=eos)
        self.vocab_size = self.tokenizer.vocab_size

    def processor(self, schema: dict | None, batch: int) -> "GrammarLogitsProcessor":
        import llguidance
        # property order is kept: the answer is written in the schema's order (guesses first)
        grammar = _grammar(json.dumps(schema or ANY_OBJECT))
        matchers = [llguidance.LLMatcher(self.tokenizer, grammar, log_level=0)
                    for _ in range(batch)]
        if matchers[0].is_error():
            raise PrismError(f"hf backend: the JSON schema cannot be enforced: "
                             f"{matchers[0].get_error()}")
        return GrammarLogitsProcessor(matchers, self.vocab_size)


class GrammarLogitsProcessor(LogitsProcessor):
    """A transformers logits processor: row i may only take tokens its matcher allows.

    The first call sees the prompt; every later call first feeds each row's last sampled token
    to its matcher. A finished row (its matcher stopped after EOS) gets EOS only, which is what
    transformers pads it with anyway. A matcher in an error state (it cannot happen with tokens
    the mask allowed) lets its row go unconstrained rather than stopping the batch.
    """

    def __init__(self, matchers: list, vocab_size: int):
        self.matchers, self.vocab_size = matchers, vocab_size
        self.started = False
        self.errors: list[str] = []

    def __call__(self, input_ids, scores):
        import torch
        from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

        if self.started:
            last = input_ids[:, -1].tolist()
            for m, token in zip(self.matchers, last):
                if not m.is_stopped() and not m.is_error():
                    m.consume_token(int(token))
                    if m.is_error():
                        self.errors.append(m.get_error())
        self.started = True
        mask = allocate_token_bitmask(len(self.matchers), self.vocab_size)
        for i, m in enumerate(self.matchers):
            if not m.is_error():
                fill_next_token_bitmask(m, mask, i)
        bits = (torch.from_numpy(mask).unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
        allowed = bits.reshape(mask.shape[0], -1).to(torch.bool)
        width = scores.shape[-1]
        if allowed.shape[1] < width:
            allowed = torch.cat([allowed, torch.zeros(allowed.shape[0], width - allowed.shape[1],
                                                      dtype=torch.bool)], dim=1)
        allowed = allowed[:, :width].to(scores.device)
        return scores.masked_fill(~allowed, float("-inf"))
