"""prism_core: the shared floor of prism, imported by both the data and the evaluation side.

It holds the attribute schema and all attribute knowledge (:mod:`prism_core.attributes`), the
prediction format, image helpers, the prompt loader, the error base class and model access
(backend interface, registry, backends, response cache). It imports neither ``prism_dataset``
nor ``prism_eval``; heavy libraries (torch, transformers, openai, vllm) load only when a backend
that needs them is built.
"""
__version__ = "0.1.0"
