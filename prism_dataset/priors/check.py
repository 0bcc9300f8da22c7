"""`prism priors`: check a prior by sampling it, or fit an independent prior to a release.

``prism priors check --prior default|v1|PATH -n 10000 --seed 0`` prints constraint violations,
the v1 release's incoherences per 543 profiles (release, v1.yaml, default.yaml and the checked
prior), bias-corrected Cramér's V between attributes, and the total-variation distance of each
marginal from the release (for v1.yaml, or with ``--distance``). Exit status 1 when a constraint
is broken or a distance exceeds ``--max-tvd``.
``prism priors fit --release DIR --out FILE`` writes a prior of the release's marginals.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..hub_release import fetch_release
from ..release import ReleaseError
from . import compare
from .prior import load_prior, user_rng

__all__ = ["add_arguments", "run", "check_prior", "find_release"]

_SHORT = {"sex": "sex", "age": "age", "place_of_birth": "pob", "education": "edu",
          "occupation": "occ", "income": "inc", "relationship": "rel", "health": "hea",
          "religion": "reg", "height_cm": "hgt", "weight_kg": "wgt", "hair_color": "hair",
          "eye_color": "eye", "shopping_habits": "shp"}
RELEASE_USERS = 543


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    c = sub.add_parser("check", help="sample a prior; print violations, associations, distances")
    c.add_argument("--prior", default="default", help="prior name (default, v1) or YAML path")
    c.add_argument("-n", "--n-profiles", type=int, default=10000, help="profiles to sample")
    c.add_argument("--seed", type=int, default=0, help="seed of the sampled profiles (default 0)")
    c.add_argument("--release", default=None,
                   help="v1 release folder with target.json (default: $PRISM_V1_DIR, else the "
                        "local Hub cache of the release)")
    c.add_argument("--distance", action="store_true",
                   help="print distances from the release for any prior (always for v1)")
    c.add_argument("--max-tvd", type=float, default=0.05,
                   help="largest total-variation distance accepted (default 0.05)")
    c.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    f = sub.add_parser("fit", help="write a prior of a release's independent marginals")
    f.add_argument("--release", default=None, help="release folder with target.json")
    f.add_argument("--name", default="v1", help="name written into the fitted prior (default v1)")
    f.add_argument("--out", required=True, help="YAML file to write")


def find_release(path: str | None) -> Path | None:
    """The release folder: ``path``, $PRISM_V1_DIR, or the Hub cache; None when none is found."""
    for candidate in (path, os.environ.get("PRISM_V1_DIR")):
        if candidate:
            root = Path(candidate)
            if not (root / "target.json").is_file():
                raise ReleaseError(root, "no target.json in this folder")
            return root
    try:
        return fetch_release(images=False)  # only target.json is read
    except ReleaseError:
        return None


def _sample(prior, n: int, seed: int) -> list[dict]:
    return [prior.sample_values(user_rng(seed, i)) for i in range(n)]


def check_prior(prior_spec: str, n: int = 10000, seed: int = 0, release: Path | None = None,
                distance: bool | None = None) -> dict:
    """The numbers ``prism priors check`` prints, as a dict."""
    prior = load_prior(prior_spec)
    profiles = _sample(prior, n, seed)
    violations = {c.name: sum(1 for p in profiles if not c.satisfied(p)) for c in prior.constraints}
    result = {"prior": prior.label, "source": prior.source, "n": n, "seed": seed,
              "violations": violations, "total_violations": sum(violations.values())}
    rel = compare.release_profiles(release) if release is not None else None
    columns = {}
    if rel is not None:
        columns["release"] = compare.incoherences(rel)
    for name in ("v1", "default"):
        if prior.name == name and prior.source == name:
            columns[f"{name}.yaml"] = compare.incoherences(profiles)
        else:
            columns[f"{name}.yaml"] = compare.incoherences(_sample(load_prior(name), n, seed))
    if prior.source not in ("v1", "default"):
        columns[prior.name] = compare.incoherences(profiles)
    result["incoherences"] = {
        "labels": [label for label, _ in compare.INCOHERENCES],
        "per_543": {col: [c * RELEASE_USERS / max(total, 1) for c in counts]
                    for col, (total, counts) in columns.items()}}
    result["association"] = {f"{a}|{b}": v for (a, b), v in
                             compare.association_table(profiles, list(_SHORT)).items()}
    if distance is None:
        distance = prior.name == "v1"
    if distance and rel is not None:
        ref, got = compare.marginals(rel), compare.marginals(profiles)
        result["tvd"] = {k: compare.tvd(ref[k], got.get(k, {})) for k in ref}
    return result


def _print(result: dict, max_tvd: float, release_found: bool, out=None) -> None:
    p = lambda *a: print(*a, file=out or sys.stdout)  # noqa: E731
    p(f"prior {result['prior']} ({result['source']}): {result['n']} profiles, seed {result['seed']}")
    p("")
    p(f"Constraint violations: {result['total_violations']}")
    width = max([len(k) for k in result["violations"]] + [10])
    for name, count in result["violations"].items():
        p(f"  {name:<{width}}  {count}")
    if not result["violations"]:
        p("  (the prior has no constraints)")
    p("")
    inc = result["incoherences"]
    cols = list(inc["per_543"])
    p(f"Incoherences of the v1 release, per {RELEASE_USERS} profiles:")
    lw = max(len(label) for label in inc["labels"])
    p("  " + " " * lw + "".join(f"{c:>14}" for c in cols))
    for i, label in enumerate(inc["labels"]):
        cells = "".join(f"{inc['per_543'][c][i]:>14.1f}" if c != "release" else
                        f"{inc['per_543'][c][i]:>14.0f}" for c in cols)
        p(f"  {label:<{lw}}{cells}")
    if not release_found:
        p("  (release not found: pass --release DIR or set PRISM_V1_DIR for its column)")
    p("")
    names = list(_SHORT)
    assoc = result["association"]
    p("Association between attributes (bias-corrected Cramér's V; 0 = independent, 1 = determined):")
    p("      " + "".join(f"{_SHORT[b]:>5}" for b in names[:-1]))
    for i, a in enumerate(names[1:], start=1):
        row = "".join(f"{assoc[f'{b}|{a}']:5.2f}" for b in names[:i])
        p(f"  {_SHORT[a]:<4}{row}")
    top = sorted(assoc.items(), key=lambda kv: -kv[1])[:8]
    p("  strongest: " + ", ".join(f"{k.replace('|', '~')} {v:.2f}" for k, v in top))
    if "tvd" in result:
        p("")
        p(f"Total-variation distance of each marginal from the release (accepted <= {max_tvd}; "
          "height and weight in 5-unit bins, sets as item frequencies and sizes):")
        for k, v in result["tvd"].items():
            p(f"  {k:<22}{v:7.4f}  {'ok' if v <= max_tvd else 'TOO FAR'}")


def run(args) -> int:
    if args.action == "fit":
        root = find_release(args.release)
        if root is None:
            raise ReleaseError(args.release or ".", "release not found: pass --release DIR")
        profiles = compare.release_profiles(root)
        text = compare.fit_independent(
            profiles, args.name, f"The marginals of the release in {root.name} "
            f"({len(profiles)} users), drawn independently.", f"{root.name}/target.json")
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({len(profiles)} profiles)")
        return 0
    if args.n_profiles < 1:
        raise ReleaseError("-n", "the number of profiles must be at least 1")
    release = find_release(args.release)
    result = check_prior(args.prior, args.n_profiles, args.seed, release,
                         True if args.distance else None)
    _print(result, args.max_tvd, release is not None)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    far = [k for k, v in result.get("tvd", {}).items() if v > args.max_tvd]
    return 1 if result["total_violations"] or far else 0
