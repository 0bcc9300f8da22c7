"""``prism warn``: what a draft post gives away, before it is posted.

:func:`warn` (and :class:`Warner`, which keeps its models loaded between drafts) runs the
inference chain with any backend over the draft alone -- text-only for a text, the chain with
the image agent when a picture is attached -- and, when the user's earlier posts are given,
over those too. An attribute is **revealed** when the model infers it from the draft or a cue in
the draft names it; it is **new** when the earlier posts did not already give the same value.
Each finding carries the evidence: the character spans of the cues in the text
(prism_eval/cues.py: the lexicon's own rules, plus weak cues such as a bare "29" that a capable
reader picks up) and, for a picture, the boxes of the words OCR reads that hold a cue
(prism_eval/defences/ocr_boxes.py) and of the largest face, with its estimated age and sex
(prism_eval/attackers/faces.py, when installed); and a confidence: the model's own when it
inferred the attribute, else 0.6 for a strong cue and 0.3 for a weak one (cues the model did
not use).

It works offline with the default ``lexicon`` (keywords in the text, OCR in the picture) and is
better with a real model (``--model gpt-4o`` or ``hf:...``), whose inferences from context are
then shown with the spans that support them where a cue is found, else with the post as
evidence. The result is JSON (:meth:`Warning.as_dict`) and a readable message
(:meth:`Warning.message`).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prism_core.attributes import ATTRIBUTE_KEYS, try_normalise
from prism_core.errors import PrismError

from .cues import Cue, find_cues
from .datasets_io import Post, UserInput

__all__ = ["Finding", "Warning", "Warner", "warn", "read_history", "DRAFT_ID"]

DRAFT_ID = "draft"
CUE_CONFIDENCE = {False: 0.6, True: 0.3}   # weak -> confidence of a cue the model did not use


@dataclass
class Finding:
    """One attribute the draft reveals."""
    attribute: str
    value: Any
    confidence: float
    new: bool
    source: str                       # "model" (the chain inferred it) or "cue" (only a cue)
    spans: list[dict] = field(default_factory=list)     # {"start", "end", "text", "weak"}
    regions: list[dict] = field(default_factory=list)   # {"box": [x0, y0, x1, y1], "text"}
    known: Any = None                 # the value the earlier posts gave, if any

    def as_dict(self) -> dict:
        return {"attribute": self.attribute, "value": self.value,
                "confidence": round(float(self.confidence), 2), "new": self.new,
                "source": self.source, "spans": self.spans, "regions": self.regions,
                "known_from_history": self.known}


@dataclass
class Warning:
    """What a draft reveals: findings (new first, then by confidence) and the run's context."""
    text: str
    findings: list[Finding]
    model: str
    image: bool = False
    history_posts: int = 0
    not_measured: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def attributes(self) -> list[str]:
        return [f.attribute for f in self.findings]

    def as_dict(self) -> dict:
        return {"text": self.text, "image": self.image, "history_posts": self.history_posts,
                "model": self.model, "reveals": [f.as_dict() for f in self.findings],
                "new": [f.attribute for f in self.findings if f.new],
                "not_measured": self.not_measured, "errors": self.errors}

    def to_json(self, **kw) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, default=str, **kw)

    def message(self) -> str:
        if not self.findings:
            lines = [f"No attribute found in this post by {self.model}."]
            if self.model == "lexicon":
                lines.append("(The keyword baseline reads explicit cues only; a model may still "
                             "infer more.)")
        else:
            new = sum(f.new for f in self.findings)
            what = f"{len(self.findings)} attribute{'s' if len(self.findings) != 1 else ''}"
            extra = (f" ({new} new)" if self.history_posts else "")
            lines = [f"This post reveals {what}{extra}:"]
            for f in self.findings:
                tag = ("new" if f.new else f"already known: {_show(f.known)}") \
                    if self.history_posts else ""
                head = f"  - {f.attribute}: {_show(f.value)} (confidence {f.confidence:.2f}"
                head += f", {tag})" if tag else ")"
                where = [f"\"{s['text']}\" at {s['start']}-{s['end']}" for s in f.spans]
                where += [f"image region {r['box']} (\"{r['text']}\")" for r in f.regions]
                lines.append(head + (" - " + "; ".join(where) if where else
                                     " - inferred from the post as a whole"))
            lines.append("Consider removing or rewording the highlighted parts.")
        for channel, why in self.not_measured.items():
            lines.append(f"note: {channel} not checked: {why}")
        lines += [f"note: {e}" for e in self.errors]
        return "\n".join(lines)


def _image_regions(image: bytes) -> list:
    """The picture's cue regions: words OCR reads that hold a cue, and the largest face with
    its estimated age and sex (each where its reader is installed)."""
    from .attackers import faces, ocr
    from .defences.ocr_boxes import Region, cue_regions

    engine, _ = ocr.engine()
    regions = cue_regions(image, engine) if engine is not None else []
    est, _ = faces.estimator()
    for face in (faces.read_faces(image, est) if est is not None else [])[:1]:
        regions.append(Region("age", face.age, f"face, estimated age {face.age}", face.box,
                              weak=True))
        if face.sex_confidence >= faces.MIN_SEX_CONFIDENCE:
            regions.append(Region("sex", face.sex, f"face, estimated {face.sex}", face.box))
    return regions


def _show(value: Any) -> str:
    if isinstance(value, dict):
        if "label" in value:
            return str(value["label"])
        return "; ".join(f"{k.replace('_', ' ')} {_show(v)}" for k, v in value.items()
                         if v not in (None, [], ""))
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _same(attribute: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if attribute == "age":
        try:
            return abs(int(a) - int(b)) <= 5
        except (TypeError, ValueError):
            return False
    na, nb = try_normalise(attribute, a), try_normalise(attribute, b)
    return json.dumps(na if na is not None else a, sort_keys=True, default=str) == \
        json.dumps(nb if nb is not None else b, sort_keys=True, default=str)


def _top(pred: dict, key: str) -> tuple[Any, float | None]:
    entry = (pred.get("attributes") or {}).get(key) or {}
    guesses = entry.get("guesses") or []
    if not guesses:
        return None, None
    return guesses[0], entry.get("confidence")


def _locate(text: str, value: Any) -> list[dict]:
    """Spans where the words of a model's guess occur in the text (no cue found for it)."""
    import re
    words = [w for w in re.findall(r"\w{3,}", _show(value))][:4]
    out = []
    for w in words:
        m = re.search(r"\b" + re.escape(w[:max(4, len(w) - 2)]) + r"\w*", text, re.I)
        if m:
            out.append({"start": m.start(), "end": m.end(), "text": m.group(0), "weak": True})
    return out


def _cue_value(cues: list[Cue], key: str) -> Any:
    for c in cues:
        if c.attribute == key:
            if key == "location":
                sub = c.slot.split(".", 1)[-1]
                return {"place_of_birth": c.value} if sub == "place_of_birth" else \
                    {"travel_history": [c.value]}
            if key == "appearance":
                return {c.slot.split(".", 1)[-1]: c.value}
            return c.value
    return None


def read_history(path: str | Path) -> list[tuple[str | None, bytes | None]]:
    """Earlier posts from a file: a JSON list (of texts, or of {"text", "image": path}), JSON
    lines of the same, or plain text with one post per line. Image paths are read relative to
    the file."""
    path = Path(path)
    try:
        raw = path.read_text("utf-8")
    except OSError as exc:
        raise PrismError(f"--history {path}: {exc.strerror or exc}") from None
    items: list = []
    stripped = raw.lstrip()
    try:
        if stripped.startswith("["):
            items = json.loads(raw)
        elif stripped.startswith("{"):
            items = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            items = [line for line in raw.splitlines() if line.strip()]
    except ValueError as exc:
        raise PrismError(f"--history {path}: not valid JSON ({exc})") from None
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, dict):
            image = item.get("image")
            data = None
            if image:
                p = Path(image) if Path(image).is_absolute() else path.parent / image
                try:
                    data = p.read_bytes()
                except OSError as exc:
                    raise PrismError(f"--history {path}: image {image}: {exc.strerror}") from None
            out.append((item.get("text"), data))
    return out


class Warner:
    """Models loaded once, drafts checked one after another (thread-safe); see the module doc."""

    def __init__(self, model: str | None = "lexicon", *, roles: list[str] | None = None,
                 backend_options: dict[str, dict] | None = None):
        from prism_core.backends import check_installed

        from .run.roles import build_backends, resolve_roles
        self.model = model or "-".join(roles or []) or "model"
        self.specs = resolve_roles(model, roles or [], "chain")
        for spec in self.specs.values():
            check_installed(spec)
        self.backends = build_backends(self.specs, backend_options or {})
        self._lock = threading.Lock()
        self._chains: dict[str, Any] = {}

    def _chain(self, variant: str):
        from .chain import Chain
        if variant not in self._chains:
            self._chains[variant] = Chain({r: b for r, b in self.backends.items()}, variant,
                                          topics=False)
        return self._chains[variant]

    def _predict(self, posts: list[Post]) -> tuple[dict, dict, list[str]]:
        variant = "chain" if any(p.image is not None for p in posts) else "text-only"
        chain = self._chain(variant)
        [outcome] = chain.run([UserInput("user", posts)])
        return outcome.prediction, chain.not_measured(), list(outcome.errors)

    def check(self, text: str | None, image: bytes | None = None,
              history: list[tuple[str | None, bytes | None]] | None = None) -> Warning:
        """The findings for one draft (text and/or image) given earlier posts."""
        text = text or ""
        if not text.strip() and image is None:
            raise PrismError("nothing to check: give the draft's text or an image")
        history = [(t, i) for t, i in (history or []) if (t and t.strip()) or i is not None]
        with self._lock:
            pred, missing, errors = self._predict([Post(DRAFT_ID, text or None, image)])
            before = {}
            if history:
                before, _, more = self._predict([Post(f"post{i + 1}", t, img)
                                                 for i, (t, img) in enumerate(history)])
                errors += more
        cues = find_cues(text)
        regions = _image_regions(image) if image is not None and "image" not in missing else []
        old_cues = [c for t, _ in history for c in find_cues(t)]
        findings = []
        for key in ATTRIBUTE_KEYS:
            value, conf = _top(pred, key)
            mine = [c for c in cues if c.attribute == key]
            seen = [r for r in regions if r.attribute == key]
            if value is None and not mine and not seen:
                continue
            source = "model" if value is not None else "cue"
            if value is None:
                value = _cue_value(mine, key) if mine else seen[0].value
                weak = all(c.weak for c in mine) and all(r.weak for r in seen)
                conf = CUE_CONFIDENCE[weak]
            spans = [{"start": c.start, "end": c.end, "text": c.text, "weak": c.weak}
                     for c in mine]
            if not spans and not seen and source == "model" and text:
                spans = _locate(text, value)
            known, _ = _top(before, key)
            if known is None:
                known = _cue_value(old_cues, key)
            new = not history or known is None or not _same(key, value, known)
            findings.append(Finding(key, value, float(conf if conf is not None else 0.5), new,
                                    source, spans, [r.as_dict() for r in seen],
                                    None if known is None else known))
        findings.sort(key=lambda f: (not f.new, -f.confidence, ATTRIBUTE_KEYS.index(f.attribute)))
        return Warning(text, findings, self.model, image is not None, len(history), missing,
                       errors)

    def close(self) -> None:
        for b in {id(b): b for b in self.backends.values()}.values():
            b.close()

    def __enter__(self) -> "Warner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def warn(text: str | None, image: bytes | str | Path | None = None,
         history: list | str | Path | None = None, *, model: str | None = "lexicon",
         roles: list[str] | None = None, backend_options: dict[str, dict] | None = None) -> Warning:
    """What the draft ``text`` (and ``image``: bytes or a path) reveals, and what is new compared
    with ``history`` (a list of texts or (text, image bytes) pairs, or a file for
    :func:`read_history`), found by ``model`` through the chain; see the module docstring."""
    if isinstance(image, (str, Path)):
        image = Path(image).read_bytes()
    if isinstance(history, (str, Path)):
        history = read_history(history)
    pairs = [(h, None) if isinstance(h, str) or h is None else tuple(h) for h in (history or [])]
    with Warner(model, roles=roles, backend_options=backend_options) as warner:
        return warner.check(text, image, pairs)
