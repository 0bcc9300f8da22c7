"""Registry, light imports and the dummy backend."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prism_core.backends import (
    ChatRequest,
    UnknownBackend,
    available_backends,
    get_backend,
    parse_model_spec,
)
from prism_core.backends.dummy import DEFAULT_PREDICTION
from prism_core.prediction import coerce_prediction


def test_registered_names_and_suggestions():
    assert {"dummy", "lexicon", "hf", "openai", "vllm"} <= set(available_backends())
    assert parse_model_spec("hf:Qwen/Qwen2-VL-2B-Instruct") == ("hf", "Qwen/Qwen2-VL-2B-Instruct")
    assert parse_model_spec("gpt-4o") == ("openai", "gpt-4o")
    with pytest.raises(UnknownBackend, match="did you mean 'lexicon'"):
        get_backend("lexicn")


def test_importing_and_building_light_backends_stays_light():
    code = ("import sys, prism_eval, prism_core.backends, prism_core.cache\n"
            "from prism_core.backends import get_backend, ChatRequest\n"
            "for name in ('dummy', 'lexicon'):\n"
            "    get_backend(name).generate([ChatRequest.from_prompt('[p1] my husband')])\n"
            "import prism_core.backends.presets, prism_core.backends.openai_compatible\n"
            "heavy = [m for m in ('torch', 'transformers', 'openai', 'vllm', 'diffusers')\n"
            "         if m in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_dummy_default_is_a_valid_prediction():
    [g] = get_backend("dummy").generate([ChatRequest.from_prompt("anything")])
    assert g.ok and json.loads(g.text) == DEFAULT_PREDICTION
    assert coerce_prediction(g.text)["attributes"]["sex"]["guesses"] == ["female"]


def test_dummy_modes():
    req = ChatRequest.from_prompt("hello world", system="sys")
    assert get_backend("dummy", responses="echo").generate([req])[0].text == "sys\nhello world"
    assert get_backend("dummy", responses="fixed").generate([req])[0].text == "fixed"
    table = get_backend("dummy", responses={"world": "W", "*": "other"})
    assert [g.text for g in table.generate([req, ChatRequest.from_prompt("x")])] == ["W", "other"]
    fn = get_backend("dummy", responses=lambda r: r.text().upper())
    assert fn.generate([req])[0].text == "SYS\nHELLO WORLD"
    failing = get_backend("dummy", error="injected")
    assert failing.generate([req])[0].error == "injected"


def test_dummy_hash_mode_varies_by_prompt_and_is_stable():
    backend = get_backend("dummy", responses="hash")
    a, b, a2 = backend.generate([ChatRequest.from_prompt(p) for p in ("u1", "u2", "u1")])
    assert a.text == a2.text and a.text != b.text
    pred = coerce_prediction(a.text)
    assert len(pred["attributes"]) == 12
    assert backend.calls == 3
