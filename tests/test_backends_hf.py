"""The hf backend on tiny random models of each VLM family and a tiny text-only chat model (CPU)."""
from __future__ import annotations

import pytest
from tiny_models import VLM_FAMILIES, shared_tiny_causal_lm, shared_tiny_vlm, tiny_image

from prism_core.backends import ChatRequest, get_backend
from prism_core.errors import PrismError

_BACKENDS: dict = {}


def _backend(family: str, **options):
    key = (family, tuple(sorted(options.items())))
    if key not in _BACKENDS:
        path = shared_tiny_causal_lm() if family == "text" else shared_tiny_vlm(family)
        _BACKENDS[key] = get_backend(f"hf:{path}", **options)
    return _BACKENDS[key]


def _mixed_requests(with_images: bool = True) -> list[ChatRequest]:
    """Prompts of different lengths; 0, 1 or 2 images of different sizes; a system message."""
    reqs = []
    for i in range(6):
        images = None
        if with_images and i != 2:
            images = [tiny_image(10 * i + j, (28 + 12 * j, 40)) for j in range(1 + i % 2)]
        reqs.append(ChatRequest.from_prompt("Describe" + " this" * (3 * i), images=images,
                                            system="Answer briefly." if i % 3 == 0 else None,
                                            max_tokens=8))
    return reqs


@pytest.mark.parametrize("family", VLM_FAMILIES)
def test_image_and_text_in_text_out(family):
    backend = _backend(family, max_pixels=56 * 56)
    req = ChatRequest.from_prompt("What is in this picture?", images=[tiny_image(1)], max_tokens=6)
    [gen] = backend.generate([req])
    assert gen.ok, gen.error
    assert isinstance(gen.text, str)
    assert 1 <= gen.completion_tokens <= 6
    assert gen.finish_reason in ("stop", "length")
    text_only = backend.generate([ChatRequest.from_prompt("What is in this picture?",
                                                          max_tokens=6)])[0]
    # the image adds its placeholder tokens (at least 1 after merging) plus start/end markers
    assert gen.prompt_tokens >= text_only.prompt_tokens + 3
    assert gen.latency_s > 0
    d = backend.describe()
    assert d["backend"] == "hf" and d["kind"] == "vlm" and d["device"] == "cpu"
    assert d["dtype"] == "float32" and d["max_pixels"] == 56 * 56


@pytest.mark.parametrize("family", VLM_FAMILIES + ("text",))
def test_batched_equals_batch_size_one(family):
    backend = _backend(family, max_pixels=56 * 56, batch_size=4)
    reqs = _mixed_requests(with_images=family != "text")
    batched = backend.generate(reqs)
    alone = [backend.generate([r])[0] for r in reqs]
    assert [g.error for g in batched] == [None] * len(reqs)
    assert [g.text for g in batched] == [g.text for g in alone]
    assert [g.prompt_tokens for g in batched] == [g.prompt_tokens for g in alone]
    assert [g.completion_tokens for g in batched] == [g.completion_tokens for g in alone]
    assert len({g.text for g in batched}) > 1  # the comparison means something
    assert len({g.prompt_tokens for g in batched}) == len(reqs)  # really padded batches


def test_text_only_model_serves_chat_and_refuses_images():
    backend = _backend("text")
    assert backend.describe()["kind"] == "text"
    ok, bad = backend.generate([
        ChatRequest.from_prompt("Write a short post.", system="You write posts.", max_tokens=5),
        ChatRequest.from_prompt("Describe", images=[tiny_image(0)], max_tokens=5)])
    assert ok.ok and 1 <= ok.completion_tokens <= 5 and ok.finish_reason in ("stop", "length")
    assert not bad.ok and "text-only" in bad.error


def test_max_pixels_bounds_image_tokens():
    big = tiny_image(3, (224, 224))
    req = ChatRequest.from_prompt("x", images=[big], max_tokens=1)
    small = _backend("qwen2_vl", max_pixels=56 * 56).generate([req])[0]
    large = _backend("qwen2_vl", max_pixels=112 * 112).generate([req])[0]
    # 28x28 pixels per merged token: 56x56 -> 4 tokens, 112x112 -> 16 tokens
    assert large.prompt_tokens - small.prompt_tokens == 12


def test_bad_image_fails_only_its_request():
    backend = _backend("qwen2_5_vl", max_pixels=56 * 56)
    good = ChatRequest.from_prompt("fine", images=[tiny_image(0)], max_tokens=3)
    broken = ChatRequest.from_prompt("broken", images=[b"not an image"], max_tokens=3)
    a, b, c = backend.generate([good, broken, good])
    assert a.ok and c.ok and a.text == c.text
    assert not b.ok and "cannot decode image" in b.error


def test_greedy_ignores_seed_and_sampling_is_seeded():
    backend = _backend("glm4v", max_pixels=56 * 56)
    base = dict(images=[tiny_image(5)], max_tokens=6)
    g1 = backend.generate([ChatRequest.from_prompt("p", seed=1, **base)])[0]
    g2 = backend.generate([ChatRequest.from_prompt("p", seed=2, **base)])[0]
    assert g1.text == g2.text
    s1 = backend.generate([ChatRequest.from_prompt("p", temperature=1.0, seed=7, **base)])[0]
    s2 = backend.generate([ChatRequest.from_prompt("p", temperature=1.0, seed=7, **base)])[0]
    assert s1.ok and s1.text == s2.text


def test_processor_works_without_torchvision():
    from transformers.utils import is_torchvision_available

    backend = _backend("qwen2_vl", max_pixels=56 * 56)
    video = backend.processor.video_processor
    if is_torchvision_available():  # pragma: no cover - depends on the environment
        assert type(video).__name__.endswith("VideoProcessor")
    else:
        assert type(video).__name__ == "NoVideoProcessor"
        with pytest.raises(RuntimeError, match="torchvision"):
            video([[tiny_image(0)]])


def test_cache_identity_tracks_image_limits():
    a = _backend("qwen2_vl", max_pixels=56 * 56).cache_identity()
    b = _backend("qwen2_vl", max_pixels=112 * 112).cache_identity()
    assert a != b and a["max_pixels"] == 56 * 56


def test_clear_errors_for_bad_options(tmp_path):
    with pytest.raises(PrismError, match="needs a model"):
        get_backend("hf")
    with pytest.raises(PrismError, match="dtype"):
        get_backend(f"hf:{shared_tiny_causal_lm()}", dtype="float8")
    with pytest.raises(PrismError, match="cannot load model"):
        get_backend(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(PrismError, match="min_pixels"):
        get_backend(f"hf:{shared_tiny_vlm('qwen2_vl')}", max_pixels=28 * 28, min_pixels=56 * 56)
