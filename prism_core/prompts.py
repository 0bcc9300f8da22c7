"""Versioned prompt templates: ``<name>.v<N>.txt`` files in a folder, rendered with string.Template.

A file may hold a ``### system`` and a ``### user`` section (without markers the whole file is the
user prompt). Placeholders are ``${name}``. A template's ``sha256`` (of the file text) identifies
it in results and cache keys, so editing a prompt is always visible: add a new version file
rather than changing a released one. The chain's prompts (prism_eval/prompts) and the
generator's (prism_dataset/generation/prompts) are two folders read by this one loader.
"""
from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["PromptTemplate", "PromptFolder"]

_FILE = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>\d+)\.txt$")
_SECTION = re.compile(r"^### (system|user)[ \t]*$", re.M)


@dataclass(frozen=True)
class PromptTemplate:
    """One template file: name, version, text and its sha256."""
    name: str
    version: int
    path: Path
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def id(self) -> str:
        return f"{self.name}.v{self.version}"

    def sections(self) -> dict[str, str]:
        """{"system": ..., "user": ...} (system empty when the file has none)."""
        parts = _SECTION.split(self.text)
        if len(parts) == 1:
            return {"system": "", "user": self.text.strip("\n")}
        out = {"system": "", "user": ""}
        for role, body in zip(parts[1::2], parts[2::2]):
            out[role] = body.strip("\n")
        return out

    def placeholders(self) -> set[str]:
        return {m.group("named") or m.group("braced")
                for m in string.Template.pattern.finditer(self.text)
                if m.group("named") or m.group("braced")}

    def render(self, **values) -> tuple[str, str]:
        """(system, user) with every ``${name}`` filled; a missing value raises KeyError."""
        missing = self.placeholders() - set(values)
        if missing:
            raise KeyError(f"prompt {self.id} needs value(s) for {sorted(missing)}")
        sec = self.sections()
        return (string.Template(sec["system"]).substitute(values),
                string.Template(sec["user"]).substitute(values))

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


class PromptFolder:
    """The templates of one folder, by name and version (files read once)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @lru_cache(maxsize=None)
    def available(self) -> dict[str, list[int]]:
        """Template name -> sorted versions found in the folder."""
        out: dict[str, list[int]] = {}
        for path in self.path.glob("*.v*.txt"):
            m = _FILE.match(path.name)
            if m:
                out.setdefault(m.group("name"), []).append(int(m.group("version")))
        return {k: sorted(v) for k, v in sorted(out.items())}

    @lru_cache(maxsize=None)
    def get(self, name: str, version: int | None = None) -> PromptTemplate:
        """The template ``name`` at ``version`` (the latest when None)."""
        versions = self.available().get(name)
        if not versions:
            raise KeyError(f"no prompt template {name!r} in {self.path} "
                           f"(available: {', '.join(self.available())})")
        version = versions[-1] if version is None else int(version)
        if version not in versions:
            raise KeyError(f"prompt template {name!r} has no version {version} (available: {versions})")
        path = self.path / f"{name}.v{version}.txt"
        return PromptTemplate(name, version, path, path.read_text("utf-8"))
