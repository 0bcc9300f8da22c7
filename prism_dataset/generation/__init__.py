"""Synthetic PRISM users: Profile -> Events -> Topics -> Posts -> Caption -> Image.

``generate_examples(config, user_indices)`` is what the ``synthetic`` builder config calls; it
yields ``(user_id, record)`` for the given user indices. Text backends: ``template`` (offline,
the default) or a model backend of ``prism_core.backends`` (``hf``, ``openai``); image backends:
``none``, ``placeholder``, ``diffusers``. See workflow.py for the stages.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from .settings import GENERATOR_VERSION, GenerationSettings
from .workflow import Generator

__all__ = ["generate_examples", "generate_users", "GENERATOR_VERSION"]


def generate_users(config, user_indices: Iterable[int]) -> Iterator[dict]:
    """Records of the users ``user_indices`` for a config (``PrismConfig`` or alike)."""
    generator = Generator(GenerationSettings.from_config(config))
    try:
        yield from generator.records(user_indices)
    finally:
        generator.close()


def generate_examples(config, user_indices: Iterable[int]) -> Iterator[tuple[str, dict]]:
    """``(user_id, record)`` pairs for ``datasets`` (the ``synthetic`` builder config)."""
    for record in generate_users(config, user_indices):
        yield record["user_id"], record
