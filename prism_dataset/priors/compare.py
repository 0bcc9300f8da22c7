"""Statistics of sets of profiles: marginals, total-variation distance, Cramér's V, the v1
release's incoherences, and fitting an independent-marginals prior (how ``v1.yaml`` is made).

Profiles are in the flat form of :func:`prism_dataset.priors.prior.flatten`.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Iterable

from prism_core.attributes import AttributeValueError, from_v1

from ..release import ReleaseError, read_json
from .prior import VARIABLES, flatten

__all__ = ["marginals", "tvd", "cramers_v", "association_table", "INCOHERENCES", "incoherences",
           "fit_independent", "release_profiles", "BIN_WIDTH"]

#: numeric variables compared on bins of this width (age is compared year by year)
BIN_WIDTH = {"height_cm": 5, "weight_kg": 5}


def _binned(var: str, value):
    width = BIN_WIDTH.get(var)
    if width is None or value is None:
        return value
    lo = value // width * width
    return f"{lo}-{lo + width - 1}"


def marginals(profiles: Iterable[dict]) -> dict[str, Counter]:
    """Value counts per variable; sets give one row for their items and one for their sizes."""
    out: dict[str, Counter] = {}
    for p in profiles:
        for var, (kind, _) in VARIABLES.items():
            value = p[var]
            if kind == "set":
                out.setdefault(var, Counter()).update(value)
                out.setdefault(f"{var}.size", Counter())[len(value)] += 1
            else:
                out.setdefault(var, Counter())[_binned(var, value)] += 1
    return out


def tvd(a: Counter, b: Counter) -> float:
    """Total-variation distance between two count distributions (0 = equal, 1 = disjoint)."""
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return 1.0 if na != nb else 0.0
    return 0.5 * sum(abs(a.get(k, 0) / na - b.get(k, 0) / nb) for k in set(a) | set(b))


# ---------------------------------------------------------------- association

_AGE_BANDS = ((15, 24), (25, 34), (35, 49), (50, 64), (65, 75))


def _category(var: str, value):
    """The category a scalar variable's value falls into for association tables."""
    if var == "age":
        return next((f"{lo}-{hi}" for lo, hi in _AGE_BANDS if lo <= value <= hi), str(value))
    if var in ("height_cm", "weight_kg"):
        return value // 10 * 10
    return value


def cramers_v(pairs: list[tuple]) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) of paired categorical observations."""
    n = len(pairs)
    if n < 2:
        return 0.0
    joint = Counter(pairs)
    rows, cols = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    r, k = len(rows), len(cols)
    if r < 2 or k < 2:
        return 0.0
    chi2 = sum((joint.get((a, b), 0) - rows[a] * cols[b] / n) ** 2 / (rows[a] * cols[b] / n)
               for a in rows for b in cols)
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    rc, kc = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denom = min(kc - 1, rc - 1)
    return math.sqrt(phi2 / denom) if denom > 0 else 0.0


def association_table(profiles: list[dict], variables: list[str] | None = None) -> dict:
    """Cramér's V for every pair of scalar variables: {(a, b): v} with a before b."""
    names = variables or [v for v, (kind, _) in VARIABLES.items() if kind != "set"]
    cats = {v: [_category(v, p[v]) for p in profiles] for v in names}
    return {(a, b): cramers_v(list(zip(cats[a], cats[b])))
            for i, a in enumerate(names) for b in names[i + 1:]}


# ---------------------------------------------------------------- incoherences

#: The v1 release's incoherences named in the project's issue: (label, test on a flat profile).
INCOHERENCES = (
    ("aged <= 22 with a master's or PhD",
     lambda p: p["age"] <= 22 and p["education"] in ("master's degree", "PhD")),
    ("widowed under 25",
     lambda p: p["age"] < 25 and p["relationship"] == "widowed"),
    ("no schooling, but researcher/engineer/analyst/advisor",
     lambda p: p["education"] == "no schooling" and
     p["occupation"] in ("researcher", "software engineer", "data analyst", "financial advisor")),
)


def incoherences(profiles: Iterable[dict]) -> tuple[int, list[int]]:
    """(number of profiles, count per :data:`INCOHERENCES` entry)."""
    n, counts = 0, [0] * len(INCOHERENCES)
    for p in profiles:
        n += 1
        for i, (_, test) in enumerate(INCOHERENCES):
            counts[i] += bool(test(p))
    return n, counts


# ---------------------------------------------------------------- release

def release_profiles(data_dir) -> list[dict]:
    """Flat profiles of a release folder's ``target.json`` (no posts or images are read)."""
    path = Path(data_dir) / "target.json"
    out = []
    for user, entry in read_json(path).items():
        try:
            out.append(flatten(from_v1(entry)))
        except AttributeValueError as exc:
            raise ReleaseError(path, str(exc), user, exc.field) from None
    return out


def fit_independent(profiles: list[dict], name: str, description: str, source: str) -> str:
    """YAML text of a prior that draws every variable independently from the profiles'
    empirical marginals (counts), as the v1 release was drawn; sets keep their size counts
    and item counts, and exclude the place of birth when no profile travels home."""
    import json
    n = len(profiles)
    lines = [f"# {description}", f"# Fitted by prism_dataset.priors.compare.fit_independent "
             f"from {n} profiles ({source}).", "# Every variable is independent of the others, "
             "as in the release: see default.yaml for a coherent prior.",
             f"name: {name}", "version: 1", f"description: {json.dumps(description)}",
             f"sources: [{json.dumps(source)}]", "variables:"]

    def counts(counter: Counter) -> str:
        items = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
        body = ", ".join(f"{k if isinstance(k, int) else json.dumps(k, ensure_ascii=False)}: {c}"
                         for k, c in items)
        return "{counts: {" + body + "}}"

    for var, (kind, _) in VARIABLES.items():
        lines.append(f"  {var}:")
        if kind == "set":
            sizes = Counter(len(p[var]) for p in profiles)
            items = Counter(x for p in profiles for x in p[var])
            lines.append("    type: set")
            if var == "travel_history" and not any(p["place_of_birth"] in p[var] for p in profiles):
                lines.append("    exclude: place_of_birth")
            lines.append(f"    size: {{marginal: {counts(sizes)}}}")
            lines.append(f"    items: {{marginal: {counts(items)}}}")
            continue
        values = Counter(p[var] for p in profiles)
        if kind == "integer":
            lines.append("    type: integer")
            lo, hi = min(values), max(values)
            if var == "age":
                lo, hi = min(lo, 15), max(hi, 75)
            lines.append(f"    range: [{lo}, {hi}]")
        lines.append(f"    marginal: {counts(values)}")
    return "\n".join(lines) + "\n"
