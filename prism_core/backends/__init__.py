"""Model backends by name; each is imported only when built (`get_backend("hf:...")`)."""
from .base import (Backend, ChatRequest, Generation, MissingExtra, UnknownBackend,
                   available_backends, check_installed, get_backend, image_part, parse_model_spec,
                   register_backend, request_images, text_part)

register_backend("dummy", "prism_core.backends.dummy:DummyBackend")
# attackers are evaluation-side models that read no weights; named here, imported when built
register_backend("lexicon", "prism_eval.attackers.lexicon:LexiconBackend")
register_backend("hf", "prism_core.backends.transformers_vlm:TransformersBackend",
                 requires=("torch", "transformers"), extra="hf")
register_backend("openai", "prism_core.backends.openai_compatible:OpenAIBackend",
                 requires=("openai",), extra="api")
register_backend("vllm", "prism_core.backends.vllm_backend:VLLMBackend",
                 requires=("vllm",), extra="vllm")

__all__ = ["Backend", "ChatRequest", "Generation", "MissingExtra", "UnknownBackend",
           "available_backends", "check_installed", "get_backend", "image_part",
           "parse_model_spec", "register_backend", "request_images", "text_part"]
