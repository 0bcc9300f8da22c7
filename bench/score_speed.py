"""Users scored per second by prism_eval.scoring, rules only, on one core.

Targets: 20,000 users/s on canonical predictions, 10,000 users/s on messy predictions with cold
caches. Predictions are the v1 users' own attributes given to other users (a seeded shuffle), so
every attribute is answered and most guesses are wrong, as in a real run. Cases: prepared truths
(``prepare_truth`` once per user, as score_users and the metric do), raw truth dicts normalised on
every call, messy model-style predictions (text values, codes and v1 keys, over-long guess lists)
read by the one prediction reader with warm caches, and the same with every text different from
user to user and all caches cleared before each pass (each text seen once, as with real model
output). Usage: ``python bench/score_speed.py [--v1-dir DIR]``.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 20_000
TARGET_COLD = 10_000


def messy(pred: dict, rng: random.Random) -> dict:
    """The same guesses as a model might write them: short form, codes, text, extra guesses."""
    a = pred["attributes"]
    loc, app = a["location"]["guesses"][0], a["appearance"]["guesses"][0]
    return {
        "AGE": {"guesses": [f"{a['age']['guesses'][0]} years old", "about 40", 30, 50]},
        "sex": a["sex"]["guesses"][0].upper(),
        "education": {"guesses": [a["education"]["guesses"][0].title(), "PhD"]},
        "occupation": f"works as a {a['occupation']['guesses'][0]}",
        "income": {"guesses": [f"${rng.randint(20, 250)},000 per year", "50k to 70k"]},
        "relationship state": a["relationship"]["guesses"],
        "location": {"guesses": [{"place of birth": f"born in {loc['place_of_birth']}",
                                  "travel history": ", ".join(loc["travel_history"])}]},
        "appearance": {"guesses": [{"height": f"{app['height_cm'] / 100:.2f} m",
                                    "weight": f"{round(app['weight_kg'] * 2.2)} lbs",
                                    "hair": app["hair_color"], "eyes": app["eye_color"]}]},
        "SHP": a["shopping_habits"]["guesses"][0].capitalize(),
        "hobbies": {"guesses": [", ".join(a["hobbies"]["guesses"]), "reading"]},
        "health status": a["health"]["guesses"][0],
        "REG": {"guesses": [a["religion"]["guesses"][0], "atheist", "agnostic", "Islam"]},
    }


def unique(pred: dict, rng: random.Random, i: int) -> dict:
    """A messy prediction whose every text is its own (user ``i``'s), as real answers are."""
    a = pred["attributes"]
    loc, app = a["location"]["guesses"][0], a["appearance"]["guesses"][0]
    return {
        "age": {"guesses": [f"{a['age']['guesses'][0]} years old (post {i})", f"about {40 + i % 9}"]},
        "sex": f"{a['sex']['guesses'][0]} (from post {i})",
        "education": {"guesses": [f"{a['education']['guesses'][0]} (finished {1980 + i})"]},
        "occupation": f"works as a {a['occupation']['guesses'][0]} at site {i}",
        "income": {"guesses": [f"${rng.randint(20, 250)},{i % 1000:03d} per year"]},
        "relationship state": f"{a['relationship']['guesses'][0]}, as of post {i}",
        "location": {"guesses": [{"place of birth": f"born in {loc['place_of_birth']}, district {i}",
                                  "travel history": [f"{c} (trip {i})"
                                                     for c in loc["travel_history"]]}]},
        "appearance": {"guesses": [{"height": f"{app['height_cm'] + i / 1000:.3f} cm",
                                    "weight": f"{app['weight_kg'] * 2.2 + i / 1000:.3f} lbs",
                                    "hair": f"{app['hair_color']} hair, look {i}",
                                    "eyes": f"{app['eye_color']}, look {i}"}]},
        "SHP": f"{a['shopping_habits']['guesses'][0]} (noted in post {i})",
        "hobbies": {"guesses": [", ".join(a["hobbies"]["guesses"]) + f" and walk {i}"]},
        "health status": f"{a['health']['guesses'][0]} (post {i})",
        "REG": {"guesses": [f"{a['religion']['guesses'][0]} (post {i})", "atheist"]},
    }


def clear_caches() -> None:
    """Empty the per-text caches of the readers (the loaded knowledge tables stay)."""
    import prism_core.attributes
    import prism_core.knowledge
    import prism_core.knowledge.places
    import prism_core.knowledge.text
    import prism_eval.parsing
    import prism_eval.scoring
    for module in (prism_core.attributes, prism_core.knowledge, prism_core.knowledge.places,
                   prism_core.knowledge.text, prism_eval.parsing, prism_eval.scoring):
        for obj in vars(module).values():
            info = getattr(obj, "cache_info", None)
            if info is not None and (info().maxsize or 0) > 1:
                obj.cache_clear()


def rate(preds: list, truths: list, seconds: float = 2.0, cold: bool = False) -> float:
    """Best users per CPU-second over timed passes of about ``seconds`` in all; ``cold``: all
    caches cleared before each pass."""
    from prism_eval.scoring import score_user

    pairs = list(zip(preds, truths))

    def run():
        if cold:
            clear_caches()
        for p, t in pairs:
            score_user(p, t)

    run()  # warm the normaliser caches, as a long run would
    return rate_of(run, len(pairs), seconds)


def floor_rate(n_users: int, seconds: float = 1.0) -> float:
    """Users/s of only building a score's result dicts (12 attributes, 6 sub-scores): a
    machine-speed reference, so the ratio to it compares across machines."""
    keys = [f"a{i}" for i in range(12)]

    def build():
        out = {}
        for k in keys:
            res = {"top1": 1.0, "top3": 1.0, "answered": True, "parse_failure": False,
                   "less_precise": False, "unreadable": 0, "judged": 0}
            if k in ("a6", "a7"):
                res["subscores"] = {s: {"top1": 1.0, "top3": 1.0} for s in ("h", "w", "c")}
            out[k] = res
        return {"top1": 1.0, "top3": 1.0, "coverage": 1.0, "parse_failure_rate": 0.0,
                "n_attributes": 12, "unreadable": 0, "error": None, "judge": None,
                "attributes": out}

    return rate_of(lambda: [build() for _ in range(n_users)], n_users, seconds)


def rate_of(fn, n_items: int, seconds: float, repeats: int = 5) -> float:
    best = 0.0
    for _ in range(repeats):  # CPU time of this process: other work on the machine is left out
        n, start = 0, time.process_time()
        while time.process_time() - start < seconds / repeats:
            fn()
            n += n_items
        best = max(best, n / (time.process_time() - start))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--v1-dir", type=Path, default=REPO / "tests" / "data" / "prism-v1")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per case")
    args = parser.parse_args()

    from prism_core.attributes import from_v1
    from prism_core.prediction import truth_as_prediction
    from prism_eval.scoring import aggregate, prepare_truth, score_user

    target = json.loads((args.v1_dir / "target.json").read_text("utf-8"))
    users = [from_v1(entry) for entry in target.values()]
    rng = random.Random(0)
    shuffled = users[:]
    rng.shuffle(shuffled)
    preds = [truth_as_prediction(u) for u in shuffled]
    prepared = [prepare_truth(u) for u in users]
    messy_preds = [messy(p, rng) for p in preds]
    unique_preds = [unique(p, rng, i) for i, p in enumerate(preds)]

    for name, check in (("messy", messy_preds), ("unique", unique_preds)):
        summary = aggregate([score_user(p, t) for p, t in zip(check, prepared)])
        assert summary["coverage"] == 1.0 and summary["unreadable"] == 0, (name, summary)
    cases = [("prepared truths, canonical predictions", preds, prepared, False, TARGET),
             ("raw truth dicts, canonical predictions", preds, users, False, TARGET),
             ("prepared truths, messy predictions", messy_preds, prepared, False, TARGET_COLD),
             ("messy, every text new, cold caches", unique_preds, prepared, True, TARGET_COLD)]
    print(f"{len(users)} v1 users, rules only, one process, per CPU-second")
    for name, p, t, cold, target in cases:
        floor = floor_rate(len(users))  # measured next to each case: machine speed drifts
        r = rate(p, t, args.seconds, cold)
        print(f"  {name:40s} {r:8,.0f} users/s  {r / target:.2f}x its target ({target:,})  "
              f"{r / floor:.2f}x building the result dicts alone ({floor:,.0f}/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
