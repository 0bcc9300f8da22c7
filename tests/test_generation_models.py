"""Generation with model backends: a tiny random transformers LM (hf), an OpenAI-compatible
server on 127.0.0.1, the response cache across restarts, per-user failures, and a tiny random
Stable Diffusion pipeline (diffusers) for images. No network, no downloaded weights."""
from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import pytest
from PIL import Image

from prism_dataset.generation.settings import GenerationSettings
from prism_dataset.generation.workflow import Generator


def settings(tmp_path, **kw) -> GenerationSettings:
    base = dict(seed=0, prior="default", posts_per_user=2, image_backend="none",
                generation_cache_dir=str(tmp_path / "gen"), backend_options={})
    base.update(kw)
    return GenerationSettings.from_config(SimpleNamespace(**base))


# ---------------------------------------------------------------- hf (transformers)

def test_hf_backend_generates_and_a_restart_is_served_from_the_cache(tmp_path):
    from tiny_models import shared_tiny_causal_lm
    path = str(shared_tiny_causal_lm())
    s = settings(tmp_path, text_backend="hf", text_model=path,
                 backend_options={"text": {"device": "cpu", "max_tokens": 12, "batch_users": 2}})
    first = Generator(s)
    done = list(first.records(range(2)))          # a run "killed" after two users
    paid = first.writer.backend.misses
    assert paid > 0 and first.writer.backend.hits == 0
    assert len(done) + len(first.failures) == 2
    first.close()

    again = Generator(s)                          # the restart, asked for three users
    records = list(again.records(range(3)))
    assert again.writer.backend.hits == paid      # nothing finished is recomputed
    assert again.writer.backend.misses > 0        # only user 2 is new
    assert records[:len(done)] == done
    assert len(records) + len(again.failures) == 3
    for r in records:
        assert r["provenance"]["text_backend"] == "hf" and r["provenance"]["text_model"] == path
        assert all(p["text"] and p["caption"] and p["event"] for p in r["posts"])
        assert r["leakage"]                       # the plan does not depend on the backend
    again.close()


# ---------------------------------------------------------------- openai-compatible server

def _reply(body: dict) -> str:
    from fake_openai import last_user_text
    text = last_user_text(body)
    if "blog post titles" in text:
        return "1. First title\n2. Second title\n3. Third title"
    if "Describe the photo" in text:
        return "A bright photo of a kitchen table."
    if "diary of their year" in text:
        return "They had a memorable day."
    return "What a week it has been!"


def test_openai_backend_and_a_failing_user(tmp_path, monkeypatch):
    from fake_openai import FakeOpenAIServer

    from prism_dataset.priors import load_prior
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    profiles = [load_prior("default").sample(0, i) for i in range(4)]
    heights = [f"height: {p['appearance']['height_cm']} cm" for p in profiles]
    assert heights.count(heights[2]) == 1         # a line only user 2's prompts contain
    with FakeOpenAIServer(reply=_reply, faults={heights[2]: ["400"] * 100}) as server:
        s = settings(tmp_path, text_backend="openai", text_model="fake-model",
                     backend_options={"text": {"base_url": server.base_url,
                                               "api_key_env": "FAKE_KEY", "max_retries": 0,
                                               "batch_users": 4}})
        gen = Generator(s)
        records = list(gen.records(range(4)))
        gen.close()
        bodies = list(server.bodies)
    assert [r["user_id"] for r in records] == ["s0-u000000", "s0-u000001", "s0-u000003"]
    assert [f["user_id"] for f in gen.failures] == ["s0-u000002"]
    assert "400" in gen.failures[0]["error"] and "stage events" in gen.failures[0]["error"]
    logged = [json.loads(line) for line in (tmp_path / "gen" / "failures.jsonl").read_text()
              .splitlines()]
    assert logged == gen.failures
    r = records[0]
    assert r["topics"][0]["titles"] == ["First title", "Second title", "Third title"]
    assert r["posts"][0]["text"] == "What a week it has been!"
    assert r["posts"][0]["caption"] == "A bright photo of a kitchen table."
    assert r["provenance"]["text_backend"] == "openai" and r["provenance"]["text_model"] == "fake-model"
    # prompts come from the files, with the plan's instructions and a system message
    post_prompts = [b for b in bodies if "What the post reveals" in json.dumps(b)]
    assert post_prompts and all(b["messages"][0]["role"] == "system" for b in post_prompts)
    assert any("state their" in json.dumps(b) or "hint at their" in json.dumps(b)
               for b in post_prompts)
    assert "sk-test" not in (tmp_path / "gen" / "failures.jsonl").read_text()


def test_a_backend_that_raises_fails_only_its_user(tmp_path, caplog):
    def responses(request):
        if request.tags.get("user") == 1:
            raise RuntimeError("model crashed")
        return "Fine.\nTitle\nAnother"

    s = settings(tmp_path, text_backend="dummy",
                 backend_options={"text": {"responses": responses, "batch_users": 1}})
    gen = Generator(s)
    with caplog.at_level("WARNING"):
        records = list(gen.records(range(3)))
    assert [r["user_id"] for r in records] == ["s0-u000000", "s0-u000002"]
    assert gen.failures[0]["user_id"] == "s0-u000001"
    assert "RuntimeError: model crashed" in gen.failures[0]["error"]
    assert "s0-u000001" in caplog.text and "model crashed" in caplog.text


# ---------------------------------------------------------------- diffusers

def build_tiny_stable_diffusion(path):
    """A tiny random StableDiffusionPipeline saved to ``path`` (CLIP tokenizer from a
    hand-made byte-level vocabulary; 32x32 images in two steps on CPU)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    path.mkdir(parents=True)
    chars = sorted(ByteLevel.alphabet())          # one token per byte, no merges
    vocab = {t: i for i, t in enumerate(chars + [c + "</w>" for c in chars] +
                                        ["<|startoftext|>", "<|endoftext|>"])}
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=32,
        bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"]))
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=16,
                                in_channels=4, out_channels=4, cross_attention_dim=32,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    vae = AutoencoderKL(block_out_channels=(32, 64), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   unet=unet, scheduler=DDIMScheduler(clip_sample=False, steps_offset=1),
                                   safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(path)
    return path


def test_diffusers_backend_renders_seeded_images_and_caches_them(tmp_path, monkeypatch):
    from prism_dataset.generation.images import DiffusersImages
    model = str(build_tiny_stable_diffusion(tmp_path / "tiny-sd"))
    s = settings(tmp_path, text_backend="template", image_backend="diffusers", image_model=model,
                 image_size=32, backend_options={"image": {"steps": 2, "guidance_scale": 1.0,
                                                           "device": "cpu"}})
    gen = Generator(s)
    records = list(gen.records(range(2)))
    images = [p["image"]["bytes"] for r in records for p in r["posts"]]
    assert len(images) == 4 and len(set(images)) == 4
    for data in images:
        im = Image.open(io.BytesIO(data))
        assert im.size == (32, 32) and im.format == "PNG"
    assert records[0]["provenance"]["image_backend"] == "diffusers"
    assert records[0]["provenance"]["image_model"] == model
    # same seed, same picture (fresh pipeline, no cache)
    fresh = DiffusersImages(model, 32, {"steps": 2, "guidance_scale": 1.0, "device": "cpu"})
    caption = records[0]["posts"][0]["caption"]
    assert fresh.render(caption, 11) == fresh.render(caption, 11) != fresh.render(caption, 12)
    # a restart takes every picture from the cache without loading the pipeline
    monkeypatch.setattr(DiffusersImages, "_load", lambda self: pytest.fail("pipeline loaded"))
    assert list(Generator(s).records(range(2))) == records


def test_prompt_files_are_filled_for_every_stage(tmp_path):
    from prism_dataset.generation.model import build_request_text
    from prism_dataset.generation.template import TemplateWriter
    from prism_dataset.generation.writers import Task

    gen = Generator(settings(tmp_path, text_backend="template", image_backend="placeholder",
                             image_size=16))
    (draft,) = gen.generate_chunk([4])
    post = draft.posts[0]
    tasks = [Task("event", 4, "event1", {"profile": draft.profile, "event": draft.events[0]}),
             Task("topic", 4, "topic1", {"profile": draft.profile, "topic": draft.topics[0]}),
             Task("post", 4, "post1", {"profile": draft.profile, "post": post,
                                       "history": draft.events}),
             Task("caption", 4, "post1", {"profile": draft.profile, "post": post}, "seed")]
    for task in tasks:
        text = build_request_text(task)
        assert not re.search(r"\$[a-z_]+", text)
        assert (f"age: {draft.profile['age']}" in text) == (task.stage != "caption")
    post_prompt = build_request_text(tasks[2])
    assert draft.events[-1]["description"] in post_prompt
    text_reveals = [r for r in post["reveals"] if r["channel"] == "text"]
    assert post_prompt.count("\n- state their") + post_prompt.count("\n- hint at their") == \
        len(text_reveals)
    assert all(w.text for w in TemplateWriter().write(tasks))


def test_model_options_must_match_the_backend(tmp_path):
    from prism_dataset.generation.settings import GenerationError
    with pytest.raises(GenerationError, match="text_model"):
        settings(tmp_path, text_backend="template", text_model="gpt-4o")
    with pytest.raises(GenerationError, match="image_model"):
        settings(tmp_path, image_backend="placeholder", image_model="some/sd-model")
