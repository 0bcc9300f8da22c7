"""Model text -> prediction (prism_core/prediction.py format); tolerant of messy output, never raises.

What models really write: JSON in code fences or wrapped in prose, ``<think>`` blocks, trailing
commas, comments, single quotes, Python literals (``True``/``None``), answers cut off by the token
limit, attribute codes or v1 keys instead of canonical keys, guesses as a scalar, a list or
"a, b or c", nested location/appearance objects, or no JSON at all ("- Sex: female (confidence
0.8)"). :func:`parse_output` tries, in order, every JSON-like span (repaired if needed, the complete
attributes of a truncated one recovered) and then a line-based reading, keeps the reading that
yields the most attributes, and normalises values through :mod:`prism_core.attributes` where it
can (raw strings are kept otherwise; the scorer normalises again).

An attribute that was requested and whose answer cannot be read goes to ``parse_failures`` with a
reason; an attribute the model left out or answered "unknown" is simply unanswered.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from prism_core.attributes import (
    ATTRIBUTE_KEYS,
    ATTRIBUTES,
    is_no_answer,
    key_of,
    place_name,
    split_places,
    subfield_of,
    try_normalise,
)
from prism_core.prediction import MAX_GUESSES, empty_prediction

__all__ = ["parse_prediction", "parse_output", "read_prediction", "Parsed", "attribute_key",
           "json_candidates", "load_jsonish"]

# Attribute keys and sub-field names as models write them come from the knowledge table
# (prism_core.attributes.key_of / subfield_of); the keys below belong to the prediction format.

_GUESS_KEYS = ("guesses", "top_guesses", "top_3_guesses", "top3", "top_3", "guess", "answers",
               "answer", "predictions", "prediction", "values", "value", "candidates",
               "inferred_value", "inference", "best_guess", "estimate", "result")
_CONF_KEYS = ("confidence", "conf", "certainty", "probability", "confidence_score", "likelihood")
_EVIDENCE_KEYS = ("evidence", "evidence_ids", "sources", "source", "post_ids", "supporting_posts",
                  "posts", "evidence_posts", "references", "citations", "ids")
_NOTE_KEYS = ("reason", "reasoning", "rationale", "explanation", "notes", "note", "observation",
              "observations", "justification")
_WRAPPER_KEYS = ("attributes", "prediction", "predictions", "profile", "inferences", "inferred",
                 "inferred_attributes", "result", "results", "answer", "output", "user_profile",
                 "final_prediction", "final", "personal_attributes")
_WRAPPER_RANK = {k: i for i, k in enumerate(_WRAPPER_KEYS)}
_WORD_CONF = {"very high": 0.9, "high": 0.8, "medium": 0.5, "moderate": 0.5, "low": 0.2,
              "very low": 0.1, "certain": 1.0, "none": 0.0}
# attributes whose string answers may be lists like "a, b or c" (others keep commas: "35,000",
# "buys in bulk, shops seasonally")
_SPLIT_COMMA = {"age", "sex", "education", "occupation", "relationship", "health", "religion"}
_NUMERIC = {"age"}


def _norm_key(name: Any) -> str:
    return _norm_key_text(name if isinstance(name, str) else str(name))


@lru_cache(maxsize=4096)
def _norm_key_text(name: str) -> str:
    text = re.sub(r"[*_`#]+", " ", name).strip().lower()
    text = re.sub(r"\(.*?\)", "", text)  # "Age (years)"
    return re.sub(r"[\s\-/]+", "_", text.strip(" :.")).strip("_")


def _names_attribute(name: Any) -> bool:
    """True for a key that names an attribute or a location / appearance sub-field."""
    return isinstance(name, str) and (key_of(name) is not None or subfield_of(name) is not None)


def attribute_key(name: Any) -> str | None:
    """Canonical attribute key of a key as models write it ("Relationship status", "AGE"), else None."""
    return key_of(name)


def _subfield(name: Any) -> tuple[str, str] | None:
    return subfield_of(name)


# ------------------------------------------------------------------ result

@dataclass
class Parsed:
    """A parsed model output: the prediction, per-attribute notes and how it was read."""
    prediction: dict
    notes: dict[str, str] = field(default_factory=dict)
    method: str = "none"  # json | repaired | truncated | python | lines | none
    truncated: bool = False
    extra: dict = field(default_factory=dict)  # other top-level text fields ("description")


def parse_prediction(text: Any, requested: Iterable[str] | None = ATTRIBUTE_KEYS, *,
                     truncated: bool | None = None) -> dict:
    """The prediction read from ``text`` (see :func:`parse_output`)."""
    return parse_output(text, requested, truncated=truncated).prediction


def parse_output(text: Any, requested: Iterable[str] | None = ATTRIBUTE_KEYS, *,
                 truncated: bool | None = None) -> Parsed:
    """Read a prediction from model text; never raises.

    ``requested``: the attributes the prompt asked for; those that come out unreadable (or that a
    truncated answer never reached) are listed in ``parse_failures``. ``truncated``: the backend
    reported that generation stopped at the token limit (finish_reason "length").
    """
    requested = [k for k in (requested or ())]
    try:
        return _parse(text, requested, truncated)
    except Exception as exc:  # the parser must never take a run down
        pred = empty_prediction()
        for key in requested:
            pred["parse_failures"][key] = f"parser error: {type(exc).__name__}: {exc}"
        return Parsed(pred, method="none")


def _parse(text: Any, requested: list[str], truncated: bool | None) -> Parsed:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = _strip_thinking(text)
    if text.strip().startswith('"'):  # a JSON answer encoded once more as a JSON string
        try:
            inner = json.loads(text.strip())
            text = inner if isinstance(inner, str) else text
        except ValueError:
            pass
    readings = list(_readings(text))
    best, best_rank = None, None
    for i, reading in enumerate(readings):
        # most attributes read wins; then JSON over lines; then the later span (models often
        # echo the schema before answering)
        rank = (len(reading.attrs) * 2 + len(reading.failures), reading.method not in ("lines", "none"), i)
        if best_rank is None or rank > best_rank:
            best, best_rank = reading, rank
    if best is None or (best_rank[0] == 0 and best.method in ("lines", "none")):
        reading = _Reading({}, {}, {}, "none", False, {})
    else:
        reading = best
        for other in readings:  # one object per attribute: add what the best reading lacks
            if other is not best and other.method != "lines":
                for key, entry in other.attrs.items():
                    if key not in reading.attrs:
                        reading.attrs[key] = entry
                        reading.failures.pop(key, None)
                        reading.seen.add(key)
    was_cut = bool(truncated) or reading.truncated
    pred = empty_prediction()
    notes: dict[str, str] = {}
    for key in ATTRIBUTE_KEYS:
        if key in reading.attrs:
            pred["attributes"][key] = reading.attrs[key]
            if reading.notes.get(key):
                notes[key] = reading.notes[key]
    for key in requested:
        if key in pred["attributes"]:
            continue
        if key in reading.failures:
            pred["parse_failures"][key] = reading.failures[key]
        elif reading.method == "none":
            pred["parse_failures"][key] = ("empty model output" if not text.strip() else
                                           "no JSON object or 'attribute: value' lines found")
        elif was_cut and key not in reading.seen:
            pred["parse_failures"][key] = "output truncated before this attribute"
    return Parsed(pred, notes, reading.method, was_cut, reading.extra)


def read_prediction(obj: Any) -> tuple[dict, str | None]:
    """The prediction in ``obj`` and why it could not be read (None when it could).

    The one reader of predictions for the chain, `prism score` and the metric
    (docs/scoring.md §3): model text or JSON text (str or UTF-8 bytes), a prediction object or
    its short form, flat values, a v1 ``target.json`` entry, a dataset row's ``attributes``
    (ClassLabel ids, the income struct). An entry that is there but cannot be read is listed in
    ``parse_failures``; a prediction that cannot be read at all comes back with
    ``"unreadable": True`` (every attribute a parse failure) and the reason.
    """
    if isinstance(obj, (bytes, bytearray)):
        try:
            obj = bytes(obj).decode("utf-8")
        except UnicodeDecodeError as exc:
            return _unreadable(f"prediction is not UTF-8 text: {exc}")
    if isinstance(obj, str) and obj.lstrip().startswith("{"):
        try:
            loaded = json.loads(obj)
        except (ValueError, RecursionError):
            loaded = None
        if isinstance(loaded, dict):  # a prediction serialised as JSON: read as the object
            obj = loaded
    if isinstance(obj, str):
        parsed = parse_output(obj, ())
        if parsed.method == "none":
            return _unreadable("empty prediction" if not obj.strip() else
                               "no JSON object or 'attribute: value' lines found in the prediction")
        return parsed.prediction, None
    if not isinstance(obj, dict):
        return _unreadable(f"prediction must be an object or text, got {type(obj).__name__}")
    if _canonical(obj):
        return obj, None  # already in the prediction format: its guesses are scored as given
    pred = empty_prediction()
    try:
        reading = _interpret({k: v for k, v in obj.items() if k != "parse_failures"},
                             "object", None)
    except RecursionError:
        return _unreadable("prediction is nested too deeply")
    if reading is not None:
        pred["attributes"] = {k: reading.attrs[k] for k in ATTRIBUTE_KEYS if k in reading.attrs}
        pred["parse_failures"] = {k: reading.failures[k] for k in ATTRIBUTE_KEYS
                                  if k in reading.failures}
    elif any(v not in (None, {}, []) for k, v in obj.items() if k != "parse_failures"):
        return _unreadable("no attribute found in the prediction object")
    failures = obj.get("parse_failures")
    if isinstance(failures, dict):
        for name, reason in failures.items():
            key = key_of(name) if isinstance(name, str) else None
            if key is not None:
                pred["parse_failures"][key] = str(reason)
    return pred, None


_KEYSET = frozenset(ATTRIBUTE_KEYS)
_CONFIDENCE_TYPES = frozenset({float, int, type(None)})


def _canonical(prediction: dict) -> bool:
    """True when ``prediction`` is in the prediction format: {"attributes": {key: {"guesses":
    [...], "confidence": number or null, ...}}, "parse_failures": {key: reason}}."""
    if len(prediction) != 2:
        return False
    attrs, failures = prediction.get("attributes"), prediction.get("parse_failures")
    if type(attrs) is not dict or type(failures) is not dict or not (
            attrs.keys() <= _KEYSET and failures.keys() <= _KEYSET):
        return False
    for entry in attrs.values():
        if type(entry) is not dict or type(entry.get("guesses")) is not list or \
                type(entry.get("confidence")) not in _CONFIDENCE_TYPES:
            return False
    return True


def _unreadable(reason: str) -> tuple[dict, str]:
    pred = empty_prediction()
    pred["unreadable"] = True
    return pred, reason


_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.S | re.I)


def _strip_thinking(text: str) -> str:
    text = _THINK.sub(" ", text)
    # an unclosed <think> at the start means the answer never came; keep the text for the fallback
    return text


# ------------------------------------------------------------------ readings

@dataclass
class _Reading:
    attrs: dict
    failures: dict
    notes: dict
    method: str
    truncated: bool
    extra: dict
    seen: set = field(default_factory=set)


def _readings(text: str):
    for obj, method, cut in _json_objects(text):
        r = _interpret(obj, method, cut)
        if r is None and cut is None and _explicitly_empty(obj):
            r = _Reading({}, {}, {}, method, False, {})  # "nothing to infer": unanswered, not a failure
        if r is not None:
            yield r
    yield _lines_reading(text)


def _explicitly_empty(obj: Any) -> bool:
    """A complete answer that lists no attribute, e.g. {"attributes": {}, "parse_failures": {}}."""
    return (isinstance(obj, dict) and bool(obj)
            and any(_norm_key(k) in _WRAPPER_KEYS and v in ({}, []) for k, v in obj.items())
            and all(v in ({}, [], None) for v in obj.values()))


def _json_objects(text: str):
    """(object, method, truncated) for each JSON-like span of the text, best-effort loaded."""
    seen: set[str] = set()
    for span in json_candidates(text):
        if span in seen:
            continue
        seen.add(span)
        loaded = load_jsonish(span)
        if loaded is not None:
            yield loaded


def json_candidates(text: str) -> list[str]:
    """JSON-like spans: fenced blocks, then balanced {...}/[...] spans, then an unclosed tail."""
    out: list[str] = []
    for m in re.finditer(r"```[a-zA-Z0-9_+-]*[ \t]*\n?(.*?)(?:```|\Z)", text, re.S):
        body = m.group(1).strip()
        if body and body[0] in "{[":
            out.append(body)
    i, n = 0, len(text)
    while i < n:
        if text[i] in "{[":
            end = _match_bracket(text, i)
            if end is None:
                out.append(text[i:])  # runs to the end: truncated
                break
            span = text[i:end + 1]
            if text[i] == "{" or re.match(r"\[\s*[{\[\"']", span):
                out.append(span)
            i = end + 1
        else:
            i += 1
    return out


def _match_bracket(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at ``start`` (strings respected), or None."""
    depth, quote, esc = 0, None, False
    for j in range(start, len(text)):
        c = text[j]
        if quote:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == quote:
                quote = None
            elif c == "\n" and quote == "'":
                quote = None  # an apostrophe in prose, not a string
            continue
        if c in "\"'":
            if c == "'" and j > start and text[j - 1].isalnum() and j + 1 < len(text) and text[j + 1].isalnum():
                continue  # don't, it's -> an apostrophe
            quote = c
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return j
    return None


def load_jsonish(span: str) -> tuple[Any, str, int | None] | None:
    """Load JSON-like text: strict JSON, repaired JSON, a Python literal, or the complete prefix
    of a truncated object. Returns (object, method, cut depth) or None; the cut depth (brackets
    still open where a truncated text was cut) is None for a complete text."""
    try:
        return json.loads(span), "json", None
    except (ValueError, RecursionError):
        pass
    repaired = _repair(span)
    try:
        return json.loads(repaired), "repaired", None
    except (ValueError, RecursionError):
        pass
    try:
        obj = ast.literal_eval(span)
        if isinstance(obj, (dict, list)):
            return obj, "python", None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    closed_prefix = _close_truncated(repaired)
    if closed_prefix is not None:
        return closed_prefix[0], "truncated", closed_prefix[1]
    return None


_MAX_DEPTH = 64
_SMART = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " "})


def _repair(span: str) -> str:
    """Turn near-JSON (comments, single quotes, trailing commas, Python literals, bare keys) into JSON."""
    s = span.translate(_SMART)
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in "\"'":
            j, buf = i + 1, []
            while j < n:
                d = s[j]
                if d == "\\" and j + 1 < n:
                    nxt = s[j + 1]
                    buf.append("'" if nxt == "'" else "\\" + nxt)  # \' is not a JSON escape
                    j += 2
                    continue
                if d == c:
                    if c == "'" and j + 1 < n and s[j + 1].isalpha() and j > i + 1 and s[j - 1].isalpha():
                        buf.append(d)  # an apostrophe inside a single-quoted string: it's
                        j += 1
                        continue
                    break
                if d == '"' and c == "'":
                    buf.append('\\"')
                elif d == "\n":
                    buf.append("\\n")
                else:
                    buf.append(d)
                j += 1
            out.append('"' + "".join(buf) + ('"' if j < n else ""))
            i = j + 1
            continue
        if c == "/" and i + 1 < n and s[i + 1] == "/":
            while i < n and s[i] != "\n":
                i += 1
            continue
        if c == "/" and i + 1 < n and s[i + 1] == "*":
            end = s.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c == "#":
            while i < n and s[i] != "\n":
                i += 1
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (s[j].isalnum() or s[j] in "_-"):
                j += 1
            word = s[i:j]
            k = j
            while k < n and s[k] in " \t":
                k += 1
            if word in ("True", "False", "None", "true", "false", "null", "NaN", "Infinity"):
                out.append({"True": "true", "False": "false", "None": "null", "NaN": "null",
                            "Infinity": "null"}.get(word, word))
            elif k < n and s[k] == ":":
                out.append(json.dumps(word))  # a bare key
            else:
                # a bare word value (e.g. female) -> a string up to the next , } ]
                m = re.match(r"[^,}\]\n]*", s[i:])
                out.append(json.dumps(m.group(0).strip()))
                j = i + m.end()
            i = j
            continue
        out.append(c)
        i += 1
    s = "".join(out)
    s = re.sub(r",\s*([}\]])", r"\1", s)           # trailing commas
    s = re.sub(r"([}\]\"\d])\s*\n\s*\"", r"\1,\n\"", s)  # missing comma between lines
    return s


def _close_truncated(s: str) -> tuple[Any, int] | None:
    """The longest loadable prefix of a cut-off JSON text, closed with the brackets left open.

    Cuts are tried at the commas and openings nearest the end, so complete attributes survive and
    the one being written when the output stopped can be told apart (returns the object and the
    number of brackets that were still open at the cut).
    """
    cuts: list[tuple[int, str]] = []
    stack: list[str] = []
    quote = False
    esc = False
    for j, c in enumerate(s):
        if quote:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                quote = False
            continue
        if c == '"':
            quote = True
        elif c in "{[":
            stack.append("}" if c == "{" else "]")
            if len(stack) > _MAX_DEPTH:
                return None  # no answer nests this deep; don't spend quadratic time on it
            cuts.append((j + 1, "".join(reversed(stack))))
        elif c in "}]":
            if stack:
                stack.pop()
            cuts.append((j + 1, "".join(reversed(stack))))
        elif c == ",":
            cuts.append((j, "".join(reversed(stack))))
    for pos, closer in reversed(cuts[-200:]):
        try:
            obj = json.loads(s[:pos] + closer)
        except ValueError:
            continue
        if isinstance(obj, (dict, list)) and obj:
            return obj, len(closer)
    return None


# ------------------------------------------------------------------ interpreting an object

def _interpret(obj: Any, method: str, cut: int | None, entries: list | None = None) -> _Reading | None:
    """Attributes from a loaded object (or ready (name, value) pairs); a truncated object loses
    the attribute that was being written when the output stopped."""
    partial = None
    if entries is None:
        found = _find_entries(obj)
        if not found:
            return None
        entries, depth = found
        if cut is not None and cut > depth and entries:
            partial, entries = entries[-1][0], entries[:-1]
    if not entries and partial is None:
        return None
    attrs, failures, notes, seen = {}, {}, {}, set()
    if partial is not None:
        key = attribute_key(partial) or (_subfield(partial) or (None,))[0]
        if key:
            failures[key] = "output truncated inside this attribute"
            seen.add(key)
    extra = {}
    struct_parts: dict[str, dict[str, Any]] = {"location": {}, "appearance": {}}
    for name, value in entries:
        key = attribute_key(name)
        if key is None:
            sub = _subfield(name)
            if sub:
                struct_parts[sub[0]][sub[1]] = value
                seen.add(sub[0])
            elif isinstance(value, str) and _norm_key(name) in ("description", "summary", "image_description", "caption"):
                extra[_norm_key(name)] = value
            continue
        seen.add(key)
        entry, note, fail = _read_entry(key, value)
        if entry is not None:
            attrs[key] = entry
        elif fail:
            failures[key] = fail
        if note:
            notes[key] = note
    for key, parts in struct_parts.items():
        if parts and key not in attrs:
            entry, note, fail = _read_entry(key, parts)
            if entry is not None:
                attrs[key] = entry
            elif fail:
                failures[key] = fail
    if not attrs and not failures and not seen:
        return None
    return _Reading(attrs, failures, notes, method, cut is not None, extra, seen)


def _find_entries(obj: Any, depth: int = 1) -> tuple[list[tuple[str, Any]], int] | None:
    """(name, value) pairs of the attribute mapping inside ``obj`` (wrappers and lists unwrapped)
    and the number of brackets around them."""
    if depth > 5:
        return None
    if isinstance(obj, list):
        pairs = []
        for item in obj:
            if isinstance(item, dict):
                name = next((item[k] for k in ("attribute", "name", "key", "attr", "field", "category")
                             if isinstance(item.get(k), str)), None)
                if name is not None:
                    rest = {k: v for k, v in item.items()
                            if k not in ("attribute", "name", "key", "attr", "field", "category")}
                    pairs.append((name, rest))
                else:
                    pairs.extend(item.items())
        return (pairs, depth) if any(_names_attribute(n) for n, _ in pairs) else None
    if not isinstance(obj, dict):
        return None
    direct = list(obj.items())
    n_attr = sum(1 for k, _ in direct if _names_attribute(k))
    wrapped = sorted((_WRAPPER_RANK[_norm_key(k)], k) for k, v in direct
                     if isinstance(v, (dict, list)) and _norm_key(k) in _WRAPPER_RANK)
    for _, k in wrapped:
        inner = _find_entries(obj[k], depth + 1)
        if inner and sum(1 for n, _ in inner[0] if _names_attribute(n)) > n_attr:
            return inner
    if n_attr:
        return direct, depth
    if len(obj) == 1:
        (v,) = obj.values()
        return _find_entries(v, depth + 1)
    return None


def _is_unknown(value: Any, key: str | None = None) -> bool:
    return is_no_answer(value.strip(".!") if isinstance(value, str) else value, key)


def _read_entry(key: str, value: Any) -> tuple[dict | None, str | None, str | None]:
    """(attribute prediction or None, note, failure reason or None) for one attribute's value."""
    confidence, evidence, note = None, [], None
    raw = value
    if isinstance(value, dict):
        nk = {_norm_key(k): v for k, v in value.items()}
        confidence = _confidence(next((nk[k] for k in _CONF_KEYS if k in nk), None))
        evidence = _evidence(next((nk[k] for k in _EVIDENCE_KEYS if k in nk), None))
        note_v = next((nk[k] for k in _NOTE_KEYS if k in nk), None)
        note = note_v.strip()[:500] if isinstance(note_v, str) and note_v.strip() else None
        gk = next((k for k in _GUESS_KEYS if k in nk), None)
        if gk is None and key == "income" and ("min" in nk or "max" in nk):
            income = try_normalise("income", value)  # the dataset's {label, min, max} struct
            value = [income["label"]] if income else [_short(value)]
        elif gk is not None:
            value = nk[gk]
        elif key in ("location", "appearance") and any(_subfield(k) for k in value):
            value = {k: v for k, v in value.items() if _subfield(k)}
        else:
            if not any(k in nk for k in _CONF_KEYS + _EVIDENCE_KEYS + _NOTE_KEYS):
                return None, None, f"no guesses in {_short(raw)}"
            value = None  # only confidence/evidence: not answered
    if key in ("location", "appearance"):
        guesses, bad = _struct_guesses(key, value)
    else:
        guesses, bad = _plain_guesses(key, value)
    if confidence is None and isinstance(value, list):
        confs = [_confidence(g.get(k)) for g in value if isinstance(g, dict) for k in _CONF_KEYS if k in g]
        confidence = next((c for c in confs if c is not None), None)
    if guesses:
        return {"guesses": guesses[:MAX_GUESSES], "confidence": confidence, "evidence": evidence}, note, None
    if bad is not None:
        return None, note, f"cannot read {_short(bad)} as {key}"
    return None, note, None


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _split_text(key: str, text: str) -> list[str]:
    return list(_split_text_cached(key, text))


_SEPARATORS = re.compile(r"[,;\n&]|\b(?:or|and)\b|\(|^\s*(?:\d+[.)]|[-*\u2022])\s")


@lru_cache(maxsize=1 << 14)
def _split_text_cached(key: str, text: str) -> tuple[str, ...]:
    if not _SEPARATORS.search(text):  # one plain answer: nothing to split
        stripped = text.strip().strip(" .")
        return (stripped,) if stripped else ()
    return _split_text_parts(key, text)


def _split_text_parts(key: str, text: str) -> tuple[str, ...]:
    """Alternatives written in one string: "a, b or c", "a; b", one per line.

    Commas split only short items (so "married, with two kids" or "buys in bulk, shops
    seasonally" stay whole); ranges ("30-35", "$50,000 - $70,000") are never split.
    """
    text = re.sub(r"\s*\((?:confidence|conf|certainty|probability)[^)]*\)", "", text.strip(), flags=re.I)
    if key == "hobbies":
        parts = re.split(r"\s*(?:,|;|\band\b|\bor\b|&|\n)\s*", text)
    elif key in ("income", "shopping_habits", "location"):
        parts = re.split(r"\s*(?:;|\bor\b|\n)\s*", text)
    elif _looks_range(text):
        parts = [text]
    else:
        parts = re.split(r"\s*(?:;|\bor\b|\n)\s*", text)
        if key in _SPLIT_COMMA:
            split: list[str] = []
            for p in parts:
                items = [x for x in re.split(r"\s*,\s*", p) if x.strip()]
                split.extend(items if all(len(x.split()) <= 4 for x in items) else [p])
            parts = split
    return tuple(re.sub(r"^(?:\d+[.)]|[-*\u2022])\s+", "", p).strip(" .") for p in parts
                 if p and p.strip(" ."))


def _looks_range(text: str) -> bool:
    return bool(re.search(r"\d\s*(?:-|\u2013|to)\s*\d", text))


def _guess_value(g: Any) -> Any:
    """A guess given as {"value": x, "confidence": c} -> x."""
    if isinstance(g, dict):
        for k in ("value", "guess", "answer", "name", "label", "prediction", "country"):
            if k in g:
                return g[k]
    return g


def _flatten(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            out.extend(_flatten(v) if isinstance(v, (list, tuple)) else [v])
        return out
    return [value]


def _plain_guesses(key: str, value: Any) -> tuple[list, Any]:
    items = _flatten(value)
    texts: list[Any] = []
    for item in items:
        item = _guess_value(item)
        if isinstance(item, str):
            texts.extend(_split_text(key, item))
        elif item is not None:
            texts.append(item)
    guesses, bad = [], None
    if ATTRIBUTES[key].closed and len(texts) > 1:
        known = [t for t in texts if not _is_unknown(t, key) and _normalise(key, t) is not None]
        texts = known or texts
    for t in texts:
        if _is_unknown(t, key):
            continue
        norm = _normalise(key, t) if not isinstance(t, (bool, dict, list)) else None
        if norm is None:
            if key in _NUMERIC or key == "income" or not isinstance(t, str):
                bad = bad if bad is not None else t
                continue
            norm = t.strip()
        if key == "hobbies" and isinstance(norm, list):
            for h in norm:
                if h not in guesses:
                    guesses.append(h)
            continue
        if norm not in guesses:
            guesses.append(norm)
    return guesses, (bad if not guesses else None)


def _normalise(key: str, value: Any) -> Any:
    """The canonical form of one guess (it scores as the guess does), or None when unreadable;
    an int of a closed category is a ClassLabel id (the index in its value list)."""
    if type(value) in (str, int, float):
        return _copy(_normalise_cached(key, value))
    return _normalise_value(key, value)


def _copy(value: Any) -> Any:
    return list(value) if type(value) is list else dict(value) if type(value) is dict else value


@lru_cache(maxsize=1 << 15)
def _normalise_cached(key: str, value: Any) -> Any:
    return _normalise_value(key, value)


def _normalise_value(key: str, value: Any) -> Any:
    attr = ATTRIBUTES[key]
    if type(value) is int and attr.closed:
        return attr.values[value] if 0 <= value < len(attr.values) else None
    if key == "hobbies":
        return try_normalise("hobbies", [value])
    if key == "income":
        norm = try_normalise("income", value)
        return norm["label"] if norm else None  # the label ("50000-70000") reads back the same
    return try_normalise(key, value)


def _struct_guesses(key: str, value: Any) -> tuple[list, Any]:
    """Guesses for location/appearance: objects of sub-fields (sub-fields may carry their own guesses)."""
    if value is None:
        return [], None
    if isinstance(value, list) and value and all(isinstance(_guess_value(v), str) for v in value):
        if key == "location":  # a list of countries: place-of-birth guesses
            value = [{"place_of_birth": _guess_value(v)} for v in value]
        else:
            return [], value[0]
    if isinstance(value, str):
        if _is_unknown(value):
            return [], None
        if key == "location":
            value = [{"place_of_birth": p} for p in _split_text("location", value)]
        else:
            parts = _appearance_from_text(value)
            if not parts:
                return [], value
            value = parts
    structs = value if isinstance(value, list) else [value]
    guesses, bad = [], None
    for s in structs[:MAX_GUESSES]:
        if not isinstance(s, dict):
            bad = bad if bad is not None else s
            continue
        subs: dict[str, list] = {}
        for k, v in s.items():
            sub = _subfield(k)
            if not sub or sub[0] != key:
                continue
            v = _guess_value(v) if not isinstance(v, dict) else v
            if isinstance(v, dict):
                nk = {_norm_key(a): b for a, b in v.items()}
                gk = next((g for g in _GUESS_KEYS if g in nk), None)
                v = nk[gk] if gk else None
            if sub[1] == "travel_history":
                vals = _flatten(v) if v is not None else []
                items = []
                for x in vals:
                    x = _guess_value(x)
                    if isinstance(x, str):
                        items.extend(split_places(x))
                subs["travel_history"] = [[t for t in (_country(x) for x in items
                                                       if not _is_unknown(x)) if t]]
            else:
                vals = [x for x in (_flatten(v) if v is not None else []) if not _is_unknown(_guess_value(x))]
                subs[sub[1]] = [_guess_value(x) for x in vals]
        if not subs:
            continue
        n = max((len(v) for k, v in subs.items() if k != "travel_history"), default=1) or 1
        for i in range(min(n, MAX_GUESSES)):
            if len(guesses) >= MAX_GUESSES:
                break
            g = _struct_guess(key, {k: (v[i] if i < len(v) else (v[0] if v else None)) for k, v in subs.items()})
            if g is None:
                bad = bad if bad is not None else s
            elif g not in guesses:
                guesses.append(g)
    return guesses, (bad if not guesses else None)


def _country(text: str) -> str | None:
    """Canonical form of a place (country, region or the place as written); None when nothing
    is left of it (e.g. ";")."""
    name = place_name(text) if isinstance(text, str) else ""
    return name or None


def _struct_guess(key: str, parts: dict) -> dict | None:
    if key == "location":
        pob = parts.get("place_of_birth")
        travel = parts.get("travel_history") or []
        pob_n = _country(pob) if isinstance(pob, str) else None
        if pob_n is None and not travel:
            return None
        return {"place_of_birth": pob_n, "travel_history": travel}
    out = {"height_cm": None, "weight_kg": None, "hair_color": None, "eye_color": None}
    any_ok = False
    for sub, v in parts.items():
        if v is None or _is_unknown(v):
            continue
        norm = try_normalise("appearance", {sub: v})
        if norm is not None and norm.get(sub) is not None:
            out[sub] = norm[sub]
            any_ok = True
    return out if any_ok else None


def _appearance_from_text(text: str) -> dict:
    """"175 cm, 70 kg, brown hair, blue eyes" -> sub-fields."""
    parts = {}
    m = re.search(r"(\d(?:\.\d+)?\s*m\b|\d{2,3}\s*cm|\d\s*'\s*\d{1,2}\"?|\d\s*(?:ft|feet)\s*\d{0,2}\s*(?:in|inches)?)", text, re.I)
    if m:
        parts["height_cm"] = m.group(1)
    m = re.search(r"(\d{2,3}\s*(?:kg|kilograms?|lbs?|pounds))", text, re.I)
    if m:
        parts["weight_kg"] = m.group(1)
    m = re.search(r"([a-z\- ]+?)\s+hair", text, re.I)
    if m:
        parts["hair_color"] = m.group(1).split()[-1]
    m = re.search(r"([a-z\-]+)\s+eyes?", text, re.I)
    if m:
        parts["eye_color"] = m.group(1)
    return parts


def _confidence(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (list, tuple)):
        return _confidence(value[0]) if value else None
    if isinstance(value, str):
        t = value.strip().lower()
        if t in _WORD_CONF:
            return _WORD_CONF[t]
        m = re.search(r"(\d+(?:\.\d+)?)\s*(%)?", t)
        if not m:
            return None
        number = float(m.group(1))
        if m.group(2):
            number /= 100
        value = number
    if not isinstance(value, (int, float)) or value != value:
        return None
    value = float(value)
    if 1 < value <= 100:
        value /= 100
    elif value > 100 or value < 0:
        return None
    return round(value, 4)


_ID = re.compile(r"\[([A-Za-z0-9_.:-]+)\]|\b((?:post|image|img|photo)[_ ]?\d+(?::image)?)\b", re.I)


def _evidence(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = next((item[k] for k in ("post_id", "id", "image_id", "source", "post") if k in item), None)
        if item is None or isinstance(item, (bool, dict, list)):
            continue
        text = str(item).strip()
        if re.fullmatch(r"\[?[A-Za-z0-9_.:-]{1,60}\]?", text):
            ids = [text.strip("[]")]
        else:
            ids = [a or b.replace(" ", "") for a, b in _ID.findall(text)]
        for i in ids:
            if i and i not in out:
                out.append(i)
    return out


# ------------------------------------------------------------------ line-based fallback

_LINE = re.compile(
    r"^\s*(?:[-*\u2022>]+|\d+[.)])?\s*(?:\*\*|__)?\s*([A-Za-z][A-Za-z _/'()\-]{1,40}?)\s*(?:\*\*|__)?\s*"
    r"(?::|=|\u2013|\u2014|-(?=\s))\s*(?:\*\*|__)?\s*(.*?)\s*$")


def _lines_reading(text: str) -> _Reading:
    """Attributes from 'Key: value' lines, 'Key:' + bullet lists, and markdown table rows."""
    entries: list[tuple[str, Any]] = []
    pending: tuple[str, list] | None = None  # "Hobbies:" followed by "- chess" lines
    for line in text.splitlines():
        if pending is not None:
            item = re.match(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.*\S)\s*$", line)
            if item and not _LINE.match(line):
                pending[1].append(item.group(1).strip("*_` "))
                continue
            if pending[1]:
                entries.append((pending[0], _line_value("; ".join(pending[1]))))
            pending = None
        if line.count("|") >= 2:
            cells = [c.strip(" *`") for c in line.strip().strip("|").split("|")]
            if len(cells) >= 2 and (attribute_key(cells[0]) or _subfield(cells[0])):
                value: Any = {"guesses": cells[1]}
                if len(cells) >= 3:
                    conf = _confidence(cells[2])
                    if conf is not None:
                        value["confidence"] = conf
                    ev = _evidence(cells[3] if len(cells) >= 4 else None)
                    if ev:
                        value["evidence"] = ev
                entries.append((cells[0], value))
            continue
        m = _LINE.match(line)
        if not m:
            continue
        name, rest = m.group(1), m.group(2).strip().strip("*_`").strip()
        if attribute_key(name) is None and _subfield(name) is None:
            continue
        if not rest:
            pending = (name, [])
            continue
        entries.append((name, _line_value(rest)))
    if pending is not None and pending[1]:
        entries.append((pending[0], _line_value("; ".join(pending[1]))))
    reading = _interpret(None, "lines", None, entries) if entries else None
    return reading or _Reading({}, {}, {}, "none", False, {})


def _line_value(rest: str) -> Any:
    value: dict[str, Any] = {}
    conf = re.search(r"\(?\b(?:confidence|conf|certainty)\b\s*[:=]?\s*([0-9.]+\s*%?|high|medium|low)\)?", rest, re.I)
    if not conf:
        conf = re.search(r"\((\d{1,3}\s*%|0?\.\d+)(?:\s*confiden\w*)?\)", rest, re.I)
    if conf:
        value["confidence"] = _confidence(conf.group(1))
        rest = (rest[:conf.start()] + rest[conf.end():]).strip()
    ev = re.search(r"\(?\b(?:evidence|sources?)\s*[:=]?\s*([^)]*)\)?", rest, re.I)
    if ev:
        value["evidence"] = _evidence([p for p in re.split(r"[,\s]+", ev.group(1)) if p])
        rest = (rest[:ev.start()] + rest[ev.end():]).strip()
    ids = re.findall(r"\[([A-Za-z0-9_.:-]+)\]", rest)
    if ids and "evidence" not in value:
        value["evidence"] = ids
        rest = re.sub(r"\s*\[[A-Za-z0-9_.:-]+\]", "", rest)
    rest = re.sub(r"\s*[\(\[]\s*[\)\]]", "", rest).strip(" ,;.*_`")
    value["guesses"] = rest
    return value
