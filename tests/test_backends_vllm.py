"""The vllm backend: a clear error without vllm; real runs only where vllm and a GPU exist."""
from __future__ import annotations

import sys

import pytest

from prism_core.backends import ChatRequest, get_backend
from prism_core.errors import PrismError


def test_missing_vllm_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(PrismError, match="needs vllm, not installed: pip install 'prism-privacy"):
        get_backend("vllm:Qwen/Qwen2-VL-2B-Instruct")
    import prism_core.backends.base as base
    monkeypatch.setattr(base, "check_installed", lambda spec: None)  # past the up-front check
    with pytest.raises(PrismError, match="needs the vllm package"):
        get_backend("vllm:Qwen/Qwen2-VL-2B-Instruct")
    with pytest.raises(PrismError, match="needs a model"):
        get_backend("vllm")


@pytest.mark.gpu
def test_tiny_qwen2_vl_on_vllm(tmp_path):
    pytest.importorskip("vllm")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vllm needs a CUDA GPU")
    from tiny_models import build_tiny_vlm, tiny_image

    path = build_tiny_vlm("qwen2_vl", tmp_path / "qwen2_vl")
    backend = get_backend(f"vllm:{path}", max_pixels=56 * 56, gpu_memory_utilization=0.2,
                          max_model_len=1024, dtype="float32")
    reqs = [ChatRequest.from_prompt("Describe" + " this" * i, images=[tiny_image(i)],
                                    max_tokens=6) for i in range(4)]
    gens = backend.generate(reqs)
    assert all(g.ok and 1 <= g.completion_tokens <= 6 for g in gens)
    assert [g.text for g in gens] == [backend.generate([r])[0].text for r in reqs]
    backend.close()


def test_json_requests_use_vllm_structured_outputs(monkeypatch):
    """vLLM's own structured outputs (>= 0.11), else the older guided decoding (no GPU needed)."""
    import types

    from prism_core.backends.vllm_backend import structured_json

    class Params:
        def __init__(self, **kw):
            self.kw = kw

    new = types.ModuleType("vllm.sampling_params")
    new.StructuredOutputsParams = Params
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", new)
    out = structured_json({"type": "object"})
    assert out["structured_outputs"].kw == {"json": {"type": "object"}}
    old = types.ModuleType("vllm.sampling_params")
    old.GuidedDecodingParams = Params
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", old)
    assert structured_json({"type": "object"})["guided_decoding"].kw == {"json": {"type": "object"}}
