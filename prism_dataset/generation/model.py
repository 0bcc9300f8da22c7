"""Model text backends of the generator: any backend of ``prism_core.backends`` (``hf``,
``openai``, ...) writing each stage from a prompt file in ``prompts/``.

Every request goes
through ``CachedBackend`` (SQLite under ``cache_dir``); requests carry a per-task seed, so
sampled answers are cached too and a killed run restarts without calling the model again for
finished work. A failed request fails its user only.
"""
from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path
from string import Template

from prism_core.attributes import reveal_label
from prism_core.backends import ChatRequest, get_backend
from prism_core.cache import CachedBackend, ResponseCache
from prism_core.prompts import PromptFolder

from .events import event_facts_text
from .phrases import country_name, load_phrasebook, reveal_value, surfaces
from .settings import GENERATION_KEYS
from .writers import Task, Written

__all__ = ["ModelWriter", "PROMPT_DIR", "prompt_text", "build_request_text"]

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"
PROMPT_VERSION = 1
_PROMPTS = PromptFolder(PROMPT_DIR)
_MAX_TOKENS = {"event": 60, "topic": 80, "post": 200, "caption": 90}
_MAX_CHARS = {"event": 300, "topic": 300, "post": 1200, "caption": 500}


def prompt_text(name: str) -> str:
    """A prompt file's text (``prompts/<name>.v1.txt``), without its surrounding blank lines."""
    return _PROMPTS.get(name, PROMPT_VERSION).text.strip()


def _template_hash(stage: str) -> str:
    return hashlib.sha256((prompt_text("system") + "\n" + prompt_text(stage)).encode()).hexdigest()[:16]


def _profile_text(p: dict) -> str:
    loc, app = p["location"], p["appearance"]
    lines = [f"age: {p['age']}", f"sex: {p['sex']}", f"education: {p['education']}",
             f"occupation: {p['occupation']}",
             f"yearly income: {surfaces('income', p['income'])[0]}",
             f"relationship status: {p['relationship']}",
             f"place of birth: {country_name(loc['place_of_birth'])}",
             "countries travelled to: " + (", ".join(loc["travel_history"]) or "none"),
             f"height: {app['height_cm']} cm", f"weight: {app['weight_kg']} kg",
             f"hair colour: {app['hair_color']}", f"eye colour: {app['eye_color']}",
             f"shopping habits: {p['shopping_habits']}", f"hobbies: {', '.join(p['hobbies'])}",
             f"health: {p['health']}", f"religion: {p['religion']}"]
    return "\n".join(f"- {line}" for line in lines)


def _reveal_lines(profile: dict, reveals: list[dict], channel: str) -> str:
    lines = []
    for r in reveals:
        if r["channel"] != channel:
            continue
        label = reveal_label(r["key"])
        value = surfaces(r["key"], reveal_value(profile, r["key"], r.get("item")))[0]
        if channel == "text":
            lines.append(f"- state their {label} plainly: {value}" if r["mode"] == "explicit" else
                         f"- hint at their {label} ({value}) through an indirect detail, "
                         f"without stating it")
        else:
            lines.append(f"- their {label}, clearly visible or written: {value}"
                         if r["mode"] == "explicit" else
                         f"- a visual clue to their {label} ({value}) that does not state it")
    return "\n".join(lines) or "- nothing personal"


def build_request_text(task: Task) -> str:
    """The user message of a task: its stage's prompt file filled from the task's context."""
    ctx, stage = task.context, task.stage
    profile = ctx["profile"]
    fields = {"profile": _profile_text(profile)}
    if stage == "event":
        fields.update(date=ctx["event"]["date"], facts=event_facts_text(ctx["event"]))
    elif stage == "topic":
        subject = ctx["topic"]["subject"]
        fields.update(category=ctx["topic"]["category"],
                      subject=", ".join(subject) if isinstance(subject, list) else
                      (subject or "everyday life"))
    elif stage == "post":
        post, event = ctx["post"], ctx["post"]["event"]
        fields.update(date=event["date"], event=event["description"],
                      history="\n".join(f"- {e['date']}: {e['description']}"
                                        for e in ctx["history"]),
                      reveals=_reveal_lines(profile, post["reveals"], "text"))
    elif stage == "caption":
        post = ctx["post"]
        scene = load_phrasebook().pick("scenes", post["event"]["kind"], random.Random(task.seed))
        fields.update(post=post.get("text") or "", scene=scene,
                      reveals=_reveal_lines(profile, post["reveals"], "image"))
    return Template(prompt_text(stage)).substitute(fields)


def _clean(stage: str, text: str) -> str:
    text = text.strip().strip('"“”').strip()
    if stage == "topic":
        titles = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip().strip('"“”')
                  for line in text.splitlines()]
        return "\n".join([t for t in titles if t][:3])
    if stage in ("event", "caption"):
        text = next((line for line in text.splitlines() if line.strip()), "")
    return text[:_MAX_CHARS[stage]].strip()


class ModelWriter:
    """A ``prism_eval`` backend writing the stages, behind the on-disk response cache.

    ``options``: backend options (``device``, ``base_url``, ``api_key_env``, ...) plus the
    generation settings ``temperature`` (default 0.7), ``top_p``, ``max_tokens`` (default per
    stage) and ``batch_users`` (read by the workflow).
    """

    def __init__(self, backend: str, model: str | None, options: dict, cache_dir: str | None):
        options = dict(options)
        self.settings = {k: options.pop(k) for k in GENERATION_KEYS if k in options}
        self.settings.pop("batch_users", None)
        spec = f"{backend}:{model}" if model else backend
        self.inner = get_backend(spec, **options)
        self.cache = ResponseCache(Path(cache_dir) / "responses.sqlite") if cache_dir else None
        self.backend = CachedBackend(self.inner, self.cache, cache_sampled=True) \
            if self.cache is not None else self.inner
        self.name, self.model = backend, self.inner.model_id

    def close(self) -> None:
        self.inner.close()
        if self.cache is not None:
            self.cache.close()

    def _request(self, task: Task):
        seed = int(hashlib.sha256(task.seed.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF
        max_tokens = self.settings.get("max_tokens") or _MAX_TOKENS[task.stage]
        return ChatRequest.from_prompt(
            build_request_text(task), system=prompt_text("system"), max_tokens=int(max_tokens),
            temperature=float(self.settings.get("temperature", 0.7)),
            top_p=self.settings.get("top_p"), seed=seed,
            tags={"role": f"generation.{task.stage}", "template_hash": _template_hash(task.stage),
                  "user": task.user})

    def write(self, tasks: list[Task]) -> list[Written]:
        try:
            requests = [self._request(t) for t in tasks]
            answers = self.backend.generate(requests)
        except Exception as exc:  # a backend that raises fails this batch's users, not the run
            error = f"{type(exc).__name__}: {exc}"
            return [Written(error=error) for _ in tasks]
        out = []
        for task, answer in zip(tasks, answers):
            if answer.error:
                out.append(Written(error=answer.error))
            else:
                out.append(Written(text=_clean(task.stage, answer.text or "")))
        return out
