"""RunSpec: the options of one run (what used to be :func:`evaluate`'s long parameter list)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from prism_core.errors import PrismError

__all__ = ["RunSpec"]


@dataclass
class RunSpec:
    """How to run a variant over a dataset.

    ``judge``: an object with ``verdict``/``describe`` or a backend spec for an LLM judge (its
    verdicts are cached with the run). ``retry_failed``: on resume, run again the users that are
    not complete (failed, or partial: some calls failed after retries); their answered calls come
    back from the cache, so only the failed calls are sent again, then synthesis. ``retry_unparsed``:
    on resume, ask again, past the cache, the calls whose answer could not be read. ``cache_path``:
    the response cache (default ``out_dir/cache.sqlite``; variants of one audit share one).
    ``command``: named in the run lock ("prism evaluate", "prism audit").
    """
    variant: str = "chain"
    topics: bool = True
    image_context: bool = False
    limit: int | None = None
    batch_size: int | None = None
    judge: Any = None
    judge_spec: str | None = None
    overwrite: bool = False
    progress: bool = True
    dataset_info: dict | None = None
    chain_options: dict | None = None
    specs: dict[str, str] | None = None
    retry_failed: bool = False
    retry_unparsed: bool = False
    cache_path: str | os.PathLike | None = None
    command: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.judge, str) and self.judge_spec is None:
            self.judge_spec = self.judge
        if self.limit is not None and int(self.limit) < 0:
            raise PrismError(f"limit must be 0 or more, got {self.limit!r}")
        if self.batch_size is not None and int(self.batch_size) < 1:
            raise PrismError(f"batch size must be at least 1, got {self.batch_size!r}")

    @classmethod
    def of(cls, spec: "RunSpec | None" = None, **options) -> "RunSpec":
        """``spec`` with ``options`` replaced, or a RunSpec of ``options``; unknown names are a
        one-line error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(f"evaluate() got unexpected option(s) {', '.join(unknown)}")
        return dataclasses.replace(spec, **options) if spec is not None else cls(**options)
