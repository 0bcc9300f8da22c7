"""The chain's and the judge's prompt templates (``<name>.v<N>.txt`` files in this folder).

Read by :class:`prism_core.prompts.PromptFolder`; the snapshot tests freeze the rendered prompts,
so a change is a new version file, never an edit of a released one.
"""
from __future__ import annotations

from pathlib import Path

from prism_core.prompts import PromptFolder, PromptTemplate

__all__ = ["PromptTemplate", "get_template", "available_templates", "PROMPT_DIR"]

PROMPT_DIR = Path(__file__).resolve().parent
_FOLDER = PromptFolder(PROMPT_DIR)
get_template = _FOLDER.get
available_templates = _FOLDER.available
