"""How often prism's scoring rules agree with a careful human grader, per attribute.

Reads the hand-written corpus tests/data/scoring_agreement.yaml (attribute, truth, one guess, the
human verdict), scores each guess with prism's rules through ``score_user`` (judge off, and with a
judge that answers every open question as the human would), and prints per attribute: cases,
exact agreement, the share the rules left open, and Cohen's kappa on right / not right.
Usage: ``python bench/scoring_agreement.py [--show-disagreements]``.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from prism_core.attributes import ATTRIBUTE_KEYS
from prism_eval.scoring import score_user

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "data" / "scoring_agreement.yaml"


def load_cases(path: Path = CORPUS) -> list[dict]:
    """The corpus cases, each with ``key`` and ``sub`` split from ``attr``."""
    cases = yaml.safe_load(path.read_text("utf-8"))
    for case in cases:
        case["key"], _, case["sub"] = case["attr"].partition(".")
    return cases


def truth_and_guess(case: dict) -> tuple[dict, dict]:
    """The true attributes and the one-guess prediction of a case."""
    key, sub, guess = case["key"], case["sub"], case["guess"]
    truth = case["truth"]
    if key == "location":
        full = {"place_of_birth": "Atlantis", "travel_history": []}
        full[sub] = truth
        if sub == "travel_history":
            full["place_of_birth"] = None
        truth, guess = full, {sub: guess}
    elif key == "appearance":
        truth, guess = {sub: truth}, {sub: guess}
    return {key: truth}, {"attributes": {key: {"guesses": [guess], "confidence": None,
                                                "evidence": []}}, "parse_failures": {}}


class HumanJudge:
    """A judge that answers an open question with the corpus's human verdict."""

    def __init__(self, verdict: float):
        self.answer = {1: "yes", 0.5: "less precise", 0: "no"}[verdict]

    def verdict(self, attribute, truth, guess):
        return self.answer

    def describe(self):
        return {"judge": "corpus verdict"}


def rule_score(case: dict, judge=None) -> tuple[float, bool]:
    """(score of the case's guess by the rules, whether the rules left it open)."""
    truth, pred = truth_and_guess(case)
    result = score_user(pred, truth, judge=judge)["attributes"][case["key"]]
    if case["sub"]:
        score = result["subscores"][case["sub"]]["top1"]
    else:
        score = result["top1"]
    return score, bool(result["open"] or result["judged"])


def kappa(pairs: list[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of two raters' yes/no labels."""
    n = len(pairs)
    if not n:
        return None
    agree = sum(a == b for a, b in pairs) / n
    pa, pb = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    chance = pa * pb + (1 - pa) * (1 - pb)
    return None if chance == 1 else (agree - chance) / (1 - chance)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show-disagreements", action="store_true")
    args = ap.parse_args(argv)
    cases = load_cases()
    per: dict[str, list] = defaultdict(list)
    for case in cases:
        score, opened = rule_score(case)
        judged, _ = rule_score(case, HumanJudge(case["verdict"])) if opened else (score, False)
        per[case["attr"]].append((case, score, opened, judged))
    order = {k: i for i, k in enumerate(ATTRIBUTE_KEYS)}
    rows = sorted(per.items(), key=lambda kv: (order[kv[0].split(".")[0]], kv[0]))
    print(f"{len(cases)} hand-written cases (tests/data/scoring_agreement.yaml); rules only, judge "
          f"off; 'with judge' answers open questions as the human did")
    print(f"{'attribute':28} {'n':>4} {'agree':>7} {'open':>6} {'kappa':>6} {'with judge':>11}")
    total = agree_all = open_all = judged_all = 0
    pairs_all = []
    for attr, items in rows:
        agree = sum(abs(s - c["verdict"]) < 1e-9 for c, s, _, _ in items)
        opened = sum(o for _, _, o, _ in items)
        with_judge = sum(abs(j - c["verdict"]) < 1e-9 for c, _, _, j in items)
        pairs = [(s >= 1 - 1e-9, c["verdict"] >= 1 - 1e-9) for c, s, _, _ in items]
        k = kappa(pairs)
        print(f"{attr:28} {len(items):4d} {agree / len(items):7.1%} {opened / len(items):6.1%} "
              f"{'   -  ' if k is None else f'{k:6.2f}'} {with_judge / len(items):11.1%}")
        total += len(items)
        agree_all += agree
        open_all += opened
        judged_all += with_judge
        pairs_all += pairs
    print(f"{'all':28} {total:4d} {agree_all / total:7.1%} {open_all / total:6.1%} "
          f"{kappa(pairs_all):6.2f} {judged_all / total:11.1%}")
    if args.show_disagreements:
        for attr, items in rows:
            for c, s, o, _ in items:
                if abs(s - c["verdict"]) >= 1e-9:
                    print(f"  {attr}: truth {c['truth']!r} guess {c['guess']!r}: rules {s:g}"
                          f"{' (open)' if o else ''}, human {c['verdict']:g}"
                          f"{' [spec: disagree]' if c.get('spec') else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
