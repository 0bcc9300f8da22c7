"""Tiny randomly-initialised models and offline tokenizers for tests (no Hugging Face downloads).

Reuse from any test (pytest puts ``tests/`` on ``sys.path``)::

    from tiny_models import build_tiny_vlm, shared_tiny_vlm, tiny_image, VLM_FAMILIES
    path = build_tiny_vlm("qwen2_vl", tmp_path / "qwen2vl")   # -> a local model folder
    backend = get_backend(f"hf:{path}", max_pixels=56 * 56)
    backend.generate([ChatRequest.from_prompt("Describe", images=[tiny_image(0)])])

Families: "qwen2_vl", "qwen2_5_vl", "glm4v" (GLM-4.1V class), "qwen3_vl".

Each builder writes a folder that ``from_pretrained`` loads like a Hub checkpoint: config, random
weights (1-2 layers, hidden size 32-64, fixed seed), a tokenizer with the family's special tokens
and a chat template in the family's format, and for VLMs the image processor config. The
tokenizer is byte-level (every UTF-8 byte is one token, no merges), so it needs no vocabulary file,
handles any text and keeps the embedding small. Outputs of random models are gibberish but
deterministic, which is what the batching and plumbing tests need.

``shared_tiny_vlm(family)`` / ``shared_tiny_causal_lm()`` build once per test process into a
temporary folder (removed at exit) and return the same path to every caller, so test modules
of different helpers share one copy without fixtures in conftest.py.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

__all__ = ["VLM_FAMILIES", "build_tokenizer", "build_tiny_vlm", "build_tiny_causal_lm",
           "tiny_image", "shared_tiny_vlm", "shared_tiny_causal_lm"]

#: Model families build_tiny_vlm knows (the model_type of their transformers config).
VLM_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "glm4v", "qwen3_vl")

_QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                  "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
_GLM_SPECIALS = ["<|endoftext|>", "[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>",
                 "<|begin_of_image|>", "<|end_of_image|>", "<|image|>", "<|begin_of_video|>",
                 "<|end_of_video|>", "<|video|>"]

# Chat templates written for these tests in each family's turn format.
_QWEN_TEMPLATE = (
    "{%- for m in messages -%}"
    "<|im_start|>{{ m['role'] }}\n"
    "{%- if m['content'] is string -%}{{ m['content'] }}"
    "{%- else -%}{%- for p in m['content'] -%}"
    "{%- if p['type'] == 'image' -%}<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif p['type'] == 'text' -%}{{ p['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}<|im_end|>\n"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif -%}")
_GLM_TEMPLATE = (
    "[gMASK]<sop>"
    "{%- for m in messages -%}"
    "<|{{ m['role'] }}|>\n"
    "{%- if m['content'] is string -%}{{ m['content'] }}"
    "{%- else -%}{%- for p in m['content'] -%}"
    "{%- if p['type'] == 'image' -%}<|begin_of_image|><|image|><|end_of_image|>"
    "{%- elif p['type'] == 'text' -%}{{ p['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>\n{%- endif -%}")


def build_tokenizer(specials: list[str] | None = None, chat_template: str | None = None,
                    eos: str = "<|im_end|>", pad: str = "<|endoftext|>"):
    """A byte-level fast tokenizer: ids 0-255 are bytes, then ``specials`` in order.

    Defaults give the Qwen special tokens and a Qwen-format chat template; ``eos``/``pad`` name
    the end-of-turn and padding tokens (both among ``specials``).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    specials = list(specials or _QWEN_SPECIALS)
    vocab = {ch: i for i, ch in enumerate(sorted(ByteLevel.alphabet(), key=_byte_order))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token=pad,
                                   additional_special_tokens=specials)
    fast.chat_template = chat_template or _QWEN_TEMPLATE
    fast.padding_side = "left"
    return fast


def _byte_order(ch: str) -> int:
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    return {v: k for k, v in bytes_to_unicode().items()}[ch]


def tiny_image(seed: int = 0, size: tuple[int, int] = (40, 32)) -> bytes:
    """PNG bytes of a small deterministic noise image (different seeds, different bytes)."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _text_dims(tokenizer, **extra) -> dict:
    dims = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=4096, pad_token_id=tokenizer.pad_token_id,
                initializer_range=0.3,  # spread logits: outputs depend on the prompt
                eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    dims.update(extra)
    return dims


def build_tiny_vlm(family: str, path, seed: int = 0) -> Path:
    """Write a tiny random image-text-to-text model of ``family`` (see VLM_FAMILIES) to ``path``."""
    import torch
    import transformers as tf

    if family not in VLM_FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(VLM_FAMILIES)}")
    path = Path(path)
    glm = family == "glm4v"
    tokenizer = build_tokenizer(_GLM_SPECIALS if glm else _QWEN_SPECIALS,
                                _GLM_TEMPLATE if glm else _QWEN_TEMPLATE,
                                eos="<|user|>" if glm else "<|im_end|>")
    tid = tokenizer.convert_tokens_to_ids
    # head_dim 16 -> 8 rotary pairs split over (time, height, width)
    mrope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}
    vision = dict(depth=1, hidden_size=32, num_heads=2, patch_size=14, spatial_merge_size=2,
                  temporal_patch_size=2, in_channels=3)
    if family == "qwen2_vl":
        config = tf.Qwen2VLConfig(
            text_config=_text_dims(tokenizer, rope_parameters=mrope),
            vision_config={**vision, "embed_dim": 32, "mlp_ratio": 2, "hidden_size": 64},
            image_token_id=tid("<|image_pad|>"), video_token_id=tid("<|video_pad|>"),
            vision_start_token_id=tid("<|vision_start|>"), vision_end_token_id=tid("<|vision_end|>"))
        model_cls, image_proc = tf.Qwen2VLForConditionalGeneration, tf.Qwen2VLImageProcessorPil
    elif family == "qwen2_5_vl":
        config = tf.Qwen2_5_VLConfig(
            text_config=_text_dims(tokenizer, rope_parameters=mrope),
            vision_config={**vision, "intermediate_size": 64, "out_hidden_size": 64,
                           "window_size": 56, "fullatt_block_indexes": [0]},
            image_token_id=tid("<|image_pad|>"), video_token_id=tid("<|video_pad|>"),
            vision_start_token_id=tid("<|vision_start|>"), vision_end_token_id=tid("<|vision_end|>"))
        model_cls, image_proc = tf.Qwen2_5_VLForConditionalGeneration, tf.Qwen2VLImageProcessorPil
    elif family == "qwen3_vl":
        config = tf.Qwen3VLConfig(
            text_config=_text_dims(tokenizer, head_dim=16, rope_parameters={
                **mrope, "mrope_interleaved": True}),
            vision_config={**vision, "patch_size": 16, "intermediate_size": 64,
                           "out_hidden_size": 64, "num_position_embeddings": 64,
                           "deepstack_visual_indexes": [0]},
            image_token_id=tid("<|image_pad|>"), video_token_id=tid("<|video_pad|>"),
            vision_start_token_id=tid("<|vision_start|>"), vision_end_token_id=tid("<|vision_end|>"))
        model_cls, image_proc = tf.Qwen3VLForConditionalGeneration, tf.Qwen2VLImageProcessorPil
    else:
        config = tf.Glm4vConfig(
            text_config=_text_dims(tokenizer, rope_parameters={
                **mrope, "partial_rotary_factor": 0.5, "mrope_section": [1, 1, 2]}),
            vision_config={**vision, "intermediate_size": 64, "out_hidden_size": 64,
                           "image_size": 56},
            image_token_id=tid("<|image|>"), video_token_id=tid("<|video|>"),
            image_start_token_id=tid("<|begin_of_image|>"),
            image_end_token_id=tid("<|end_of_image|>"),
            video_start_token_id=tid("<|begin_of_video|>"),
            video_end_token_id=tid("<|end_of_video|>"))
        model_cls, image_proc = tf.Glm4vForConditionalGeneration, tf.Glm4vImageProcessorPil
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    patch = config.vision_config.patch_size * config.vision_config.spatial_merge_size
    image_proc(size={"shortest_edge": patch * patch, "longest_edge": 4 * patch * patch},
               patch_size=config.vision_config.patch_size).save_pretrained(path)
    return path


def build_tiny_causal_lm(path, seed: int = 0) -> Path:
    """Write a tiny random text-only chat model (Qwen2 architecture, Qwen chat template)."""
    import torch
    import transformers as tf

    path = Path(path)
    tokenizer = build_tokenizer()
    config = tf.Qwen2Config(**_text_dims(tokenizer), tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = tf.Qwen2ForCausalLM(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


_SHARED: dict[str, Path] = {}


def _shared_dir() -> Path:
    if "_root" not in _SHARED:
        root = Path(tempfile.mkdtemp(prefix="prism-tiny-models-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _SHARED["_root"] = root
    return _SHARED["_root"]


def shared_tiny_vlm(family: str) -> Path:
    """The path of a tiny ``family`` VLM built once per process (see build_tiny_vlm)."""
    if family not in _SHARED:
        _SHARED[family] = build_tiny_vlm(family, _shared_dir() / family)
    return _SHARED[family]


def shared_tiny_causal_lm() -> Path:
    """The path of a tiny text-only chat model built once per process (see build_tiny_causal_lm)."""
    if "causal_lm" not in _SHARED:
        _SHARED["causal_lm"] = build_tiny_causal_lm(_shared_dir() / "causal_lm")
    return _SHARED["causal_lm"]
