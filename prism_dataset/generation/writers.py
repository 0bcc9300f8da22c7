"""Text backends of the generator: what turns a stage's planned content into words.

Each stage hands a list of :class:`Task` to a writer and gets one :class:`Written` back per task.
``template`` (offline, procedural; :mod:`.template`) is the default; any other name is a model
backend of ``prism_core.backends`` (``hf``, ``openai``, ...), wrapped by :mod:`.model` with
prompts from ``prompts/`` and an on-disk response cache.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Task", "Written", "Writer"]


@dataclass
class Task:
    """One piece of text to write: ``stage`` of user ``user`` (``key`` names it within the user),
    with everything the stage knows in ``context`` (profile, event, reveals, ...)."""
    stage: str
    user: int
    key: str
    context: dict = field(default_factory=dict)
    seed: str = ""          # template choices and model sampling are seeded from this


@dataclass
class Written:
    """A writer's answer: ``text``, or ``error`` (the user is then recorded as failed)."""
    text: str | None = None
    error: str | None = None


class Writer(Protocol):
    name: str
    model: str | None

    def write(self, tasks: list[Task]) -> list[Written]: ...

    def close(self) -> None: ...

