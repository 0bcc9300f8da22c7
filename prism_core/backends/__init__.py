"""Model backends by name; each is imported only when built (`get_backend("hf:...")`)."""
from .base import (
                   Backend,
                   ChatRequest,
                   Generation,
                   UnknownBackend,
                   available_backends,
                   get_backend,
                   image_part,
                   parse_model_spec,
                   register_backend,
                   request_images,
                   text_part,
)

register_backend("dummy", "prism_core.backends.dummy:DummyBackend")
register_backend("lexicon", "prism_eval.attackers.lexicon:LexiconBackend")
register_backend("hf", "prism_core.backends.transformers_vlm:TransformersBackend")
register_backend("openai", "prism_core.backends.openai_compatible:OpenAIBackend")
register_backend("vllm", "prism_core.backends.vllm_backend:VLLMBackend")

__all__ = ["Backend", "ChatRequest", "Generation", "UnknownBackend", "available_backends",
           "get_backend", "image_part", "parse_model_spec", "register_backend", "request_images",
           "text_part"]
