"""Typed records of a run folder: one user's results line and the run summary.

Writers build plain dicts (so the JSON on disk keeps its key order and stays byte-stable); these
pydantic models say what the dicts hold and check what is read back, since run folders may be
written by anyone or anything. A record that does not fit is counted and skipped by the reader
(:mod:`prism_eval.run.store`), and a summary that does not fit is a one-line PrismError, never a
traceback. Extra keys are kept (``extra="allow"``), so newer writers stay readable.
Format 1 lines (no ``format``, no ``calls``/``status``) read with their defaults.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from prism_core.errors import PrismError

__all__ = ["Call", "Cost", "ResultLine", "RunSummary", "check_line", "check_summary",
           "RESULT_FORMAT"]

RESULT_FORMAT = 2


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")


class Call(_Record):
    """One model call of a user: its role, image (image agent), outcome and error."""
    role: str
    outcome: Literal["ok", "failed", "unparsed", "skipped"]
    image_id: str | None = None
    cached: bool = False
    error: str | None = None


class Cost(_Record):
    """What a user cost; ``seconds`` and ``cached`` describe the session that wrote the line."""
    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class ResultLine(_Record):
    """One line of ``results.jsonl``: a user's prediction, raw answers, scores and accounting."""
    format: StrictInt = 1
    user_id: StrictStr | StrictInt
    index: StrictInt = 0
    variant: str | None = None
    topics: StrictBool | None = None
    models: dict[str, Any] | None = None
    status: Literal["complete", "partial", "failed"] | None = None
    prediction: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None
    scores: dict[str, Any] | None = None
    truth: dict[str, Any] | None = None
    leakage: list | dict | None = None
    calls: list[Call] = Field(default_factory=list)
    dropped_images: list[dict[str, Any]] = Field(default_factory=list)
    truncated_posts: list[dict[str, Any]] = Field(default_factory=list)
    cost: Cost | None = None
    errors: list[str] = Field(default_factory=list)
    failure: str | None = None

    @field_validator("user_id")
    @classmethod
    def _named(cls, value):
        if value == "":
            raise ValueError("empty user_id")
        return value


class RunSummary(_Record):
    """``summary.json``: configuration, versions, headline scores (complete users), counts."""
    format: StrictInt = 1
    config: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, Any] = Field(default_factory=dict)
    prompts: dict[str, Any] | None = None
    backends: dict[str, Any] | None = None
    scores: dict[str, Any]
    scores_all_users: dict[str, Any] | None = None
    users: StrictInt
    complete: StrictInt | None = None
    partial: StrictInt = 0
    failures: StrictInt = 0
    failed_users: list = Field(default_factory=list)
    partial_users: list = Field(default_factory=list)
    calls: dict[str, int] = Field(default_factory=dict)
    dropped_images: StrictInt = 0
    not_measured: dict[str, str] = Field(default_factory=dict)
    cost: dict[str, Any] = Field(default_factory=dict)
    session: dict[str, Any] | None = None
    created: str | None = None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "record"
    return f"{where}: {err.get('msg', 'invalid')}"


def check_line(obj: Any) -> str | None:
    """Why a decoded results line is not a usable record (a short reason), else None."""
    if not isinstance(obj, dict):
        return "not an object"
    try:
        ResultLine.model_validate(obj)
    except ValidationError as exc:
        return _first_error(exc)
    return None


def check_summary(obj: Any, where: str) -> dict:
    """``obj`` when it is a run summary; a one-line PrismError naming ``where`` and the field."""
    if not isinstance(obj, dict):
        raise PrismError(f"{where}: not a run summary (a JSON {type(obj).__name__})")
    try:
        RunSummary.model_validate(obj)
    except ValidationError as exc:
        raise PrismError(f"{where}: not a run summary ({_first_error(exc)})") from None
    return obj
