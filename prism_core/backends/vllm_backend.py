"""The ``vllm`` backend: fast local GPU inference with vLLM's offline engine (images included).

Prompts are rendered with the model's own processor chat template (as in the ``hf`` backend) and
sent with their decoded images as ``multi_modal_data``; vLLM batches them itself. vLLM is an
optional GPU extra (it pins its own torch and transformers), imported only when this backend is
built. Options::

    get_backend("vllm:Qwen/Qwen2.5-VL-7B-Instruct", dtype="bfloat16", tensor_parallel_size=1,
                gpu_memory_utilization=0.9, max_model_len=32768, max_images=8,
                max_pixels=768 * 28 * 28, min_pixels=None)

Text-only models work too (``kind="text"`` or a config without a vision tower). A request with
``response_format="json"`` is decoded under vLLM's own structured outputs: its ``json_schema``
(a bare JSON object without one).
"""
from __future__ import annotations

import logging
import time

from ..errors import PrismError
from ..images import decode_image
from .base import Backend, ChatRequest, Generation, request_images

logger = logging.getLogger(__name__)


def structured_json(schema: dict) -> dict:
    """SamplingParams keywords that make vLLM's answer match ``schema``: ``structured_outputs``
    (vLLM >= 0.11), else the older ``guided_decoding``."""
    try:
        from vllm.sampling_params import StructuredOutputsParams
        return {"structured_outputs": StructuredOutputsParams(json=schema)}
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams
        return {"guided_decoding": GuidedDecodingParams(json=schema)}


class VLLMBackend(Backend):
    """vLLM ``LLM`` engine behind the list-in, list-out interface."""
    name = "vllm"
    local = True

    def __init__(self, model: str | None = None, revision: str | None = None, *,
                 dtype: str = "auto", tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float = 0.9, max_model_len: int | None = None,
                 max_images: int = 8, max_pixels: int | None = None, min_pixels: int | None = None,
                 kind: str | None = None, trust_remote_code: bool = False, seed: int = 0,
                 **options):
        if not model:
            raise PrismError("the vllm backend needs a model: vllm:<model id or local path>")
        try:
            import vllm
        except ImportError as exc:
            raise PrismError(
                "the vllm backend needs the vllm package and a CUDA GPU: pip install "
                f"'prism-privacy[vllm]' ({exc})") from None
        super().__init__(model=model, revision=revision, **options)
        import transformers as tf
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
        )

        hub = {"revision": revision, "trust_remote_code": trust_remote_code}
        config = tf.AutoConfig.from_pretrained(model, **hub)
        self.kind = kind or ("vlm" if config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
                             else "text")
        self.max_pixels, self.min_pixels, self.dtype = max_pixels, min_pixels, dtype
        engine: dict = dict(model=model, revision=revision, dtype=dtype, seed=seed,
                            tensor_parallel_size=tensor_parallel_size,
                            gpu_memory_utilization=gpu_memory_utilization,
                            trust_remote_code=trust_remote_code)
        if max_model_len:
            engine["max_model_len"] = max_model_len
        if self.kind == "vlm":
            from .transformers_vlm import load_processor

            self.processor = load_processor(model, config, max_pixels=max_pixels,
                                            min_pixels=min_pixels, **hub)
            self.tokenizer = self.processor.tokenizer
            engine["limit_mm_per_prompt"] = {"image": max_images}
            pixels = {k: v for k, v in (("max_pixels", max_pixels), ("min_pixels", min_pixels))
                      if v is not None}
            if pixels:
                engine["mm_processor_kwargs"] = pixels
        else:
            self.processor = None
            self.tokenizer = tf.AutoTokenizer.from_pretrained(model, **hub)
        self._vllm = vllm
        self.llm = vllm.LLM(**engine)

    @property
    def reads_images(self) -> bool:
        return self.kind == "vlm"

    def describe(self) -> dict:
        return {**super().describe(), "kind": self.kind, "dtype": self.dtype,
                "max_pixels": self.max_pixels, "min_pixels": self.min_pixels}

    def cache_identity(self) -> dict:
        return {**super().cache_identity(), "kind": self.kind, "dtype": self.dtype,
                "max_pixels": self.max_pixels, "min_pixels": self.min_pixels}

    def close(self) -> None:
        self.llm = None

    def _prompt(self, req: ChatRequest) -> dict:
        from .transformers_vlm import template_messages

        images = [decode_image(b) for b in request_images(req)]
        if self.kind == "text":
            if images:
                raise ValueError(f"model {self.model_id!r} is text-only but the request has "
                                 f"{len(images)} image(s)")
            return {"prompt": self.tokenizer.apply_chat_template(
                template_messages(req, text_only=True), tokenize=False, add_generation_prompt=True)}
        prompt = self.processor.apply_chat_template(template_messages(req), tokenize=False,
                                                    add_generation_prompt=True)
        out: dict = {"prompt": prompt}
        if images:
            out["multi_modal_data"] = {"image": images if len(images) > 1 else images[0]}
        return out

    def _sampling(self, req: ChatRequest):
        kwargs = {"max_tokens": req.max_tokens, "temperature": req.temperature or 0.0}
        if req.top_p is not None:
            kwargs["top_p"] = req.top_p
        if req.seed is not None:
            kwargs["seed"] = req.seed
        if req.stop:
            kwargs["stop"] = list(req.stop)
        if req.response_format == "json":
            kwargs.update(structured_json(req.json_schema or {"type": "object"}))
        return self._vllm.SamplingParams(**kwargs)

    def generate(self, requests: list[ChatRequest]) -> list[Generation]:
        """Answers in request order; bad requests get an error Generation, the rest run together."""
        results: list[Generation | None] = [None] * len(requests)
        inputs, params, index = [], [], []
        for i, req in enumerate(requests):
            try:
                inputs.append(self._prompt(req))
                params.append(self._sampling(req))
                index.append(i)
            except Exception as exc:
                results[i] = Generation(error=f"{type(exc).__name__}: {exc}")
        if inputs:
            start = time.perf_counter()
            try:
                outputs = self.llm.generate(inputs, sampling_params=params, use_tqdm=False)
            except Exception as exc:
                logger.warning("vllm generation failed: %s", exc)
                for i in index:
                    results[i] = Generation(error=f"{type(exc).__name__}: {exc}")
                return results  # type: ignore[return-value]
            share = (time.perf_counter() - start) / len(inputs)
            for i, out in zip(index, outputs):
                best = out.outputs[0]
                results[i] = Generation(text=best.text, prompt_tokens=len(out.prompt_token_ids or []),
                                        completion_tokens=len(best.token_ids),
                                        latency_s=share, finish_reason=best.finish_reason)
        return results  # type: ignore[return-value]
