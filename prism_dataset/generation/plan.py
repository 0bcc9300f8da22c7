"""Stages Topics and the post plan: which events become posts and which attributes each post
reveals, over which channel (text or image) and how (explicitly or implicitly). The plan is
recorded as the row's ``leakage`` field; text backends then write posts and captions to it.
"""
from __future__ import annotations

import random

from .phrases import LIST_KEYS, REVEAL_KEYS, Phrasebook, country_name, reveal_value

__all__ = ["plan_posts", "plan_topics", "leakage_of", "EXPLICIT_SHARE", "IMAGE_SHARE"]

EXPLICIT_SHARE = 0.5   # share of reveals stated outright
IMAGE_SHARE = 0.3      # share of reveals shown in the picture (when pictures are made)
_EXTRA_REVEALS = ((0, 0.3), (1, 0.45), (2, 0.25))
_HEALTH_SUBJECT = {"good": "an Active Lifestyle", "asthmatic": "Asthma",
                   "has diabetes": "Diabetes", "high blood pressure": "High Blood Pressure"}
_FAITH_SUBJECT = {"atheist": "Atheism", "agnostic": "Agnosticism"}


def _item(profile: dict, key: str, rng: random.Random):
    if key == "hobbies":
        return rng.choice(profile["hobbies"]) if profile["hobbies"] else None
    if key == "location.travel_history":
        travel = profile["location"]["travel_history"]
        return rng.choice(travel) if travel else None
    return None


def _reveal(profile: dict, key: str, item, rng: random.Random, image_channel: bool,
            book: Phrasebook) -> dict | None:
    value = reveal_value(profile, key, item)
    if value is None:
        return None
    mode = "explicit" if rng.random() < EXPLICIT_SHARE else "implicit"
    wants_image = image_channel and rng.random() < IMAGE_SHARE
    for m in (mode, "implicit" if mode == "explicit" else "explicit"):
        if wants_image and book.available("image", key, m, value, profile):
            return {"key": key, "item": item, "channel": "image", "mode": m}
        if book.available("text", key, m, value, profile):
            return {"key": key, "item": item, "channel": "text", "mode": m}
    return None


def plan_posts(profile: dict, events: list[dict], rng: random.Random, n_posts: int,
               image_channel: bool, book: Phrasebook) -> list[dict]:
    """``n_posts`` posts, each on one event (in date order) with its planned reveals: the
    event's own attribute plus 0-2 others not yet revealed by this user's posts."""
    about = [i for i, e in enumerate(events) if e["key"]]
    other = [i for i, e in enumerate(events) if not e["key"]]
    rng.shuffle(about)
    rng.shuffle(other)
    chosen = sorted((about + other)[:n_posts])
    posts, revealed = [], set()
    for j, index in enumerate(chosen):
        event = events[index]
        reveals = []
        if event["key"]:
            r = _reveal(profile, event["key"], event.get("item"), rng, image_channel, book)
            if r:
                reveals.append(r)
        n_extra = rng.choices([n for n, _ in _EXTRA_REVEALS], [w for _, w in _EXTRA_REVEALS])[0]
        taken = {r["key"] for r in reveals}
        pool = [k for k in REVEAL_KEYS if k not in revealed and k not in taken]
        rng.shuffle(pool)
        for key in pool:
            if n_extra <= 0:
                break
            r = _reveal(profile, key, _item(profile, key, rng) if key in LIST_KEYS else None,
                        rng, image_channel, book)
            if r:
                reveals.append(r)
                n_extra -= 1
        revealed.update(r["key"] for r in reveals)
        posts.append({"post_id": f"post{j + 1}", "event": event, "reveals": reveals})
    return posts


def leakage_of(posts: list[dict]) -> list[dict]:
    """The ``leakage`` field: one entry per planned reveal."""
    return [{"attribute": r["key"], "post_id": p["post_id"], "channel": r["channel"],
             "mode": r["mode"]} for p in posts for r in p["reveals"]]


def plan_topics(profile: dict, rng: random.Random, book: Phrasebook) -> list[dict]:
    """4-6 topic categories in the v1 style (work, hobbies, travel, health, faith), each with
    the subject its titles are about; a text backend writes three titles for each."""
    occ = profile["occupation"]
    topics = [{"kind": "occupation", "category": book.category("occupation", occ),
               "subject": ("retiree" if occ == "retired" else occ).title()}]
    for hobby in profile["hobbies"]:
        topics.append({"kind": "hobby", "category": hobby.title(), "subject": hobby.title()})
    travel = profile["location"]["travel_history"]
    if travel:
        topics.append({"kind": "travel", "category": book.category("travel"),
                       "subject": [country_name(c) for c in travel]})
    if profile["health"] in _HEALTH_SUBJECT and rng.random() < 0.7:
        topics.append({"kind": "health", "category": book.category("health", profile["health"]),
                       "subject": _HEALTH_SUBJECT[profile["health"]]})
    if rng.random() < 0.3:
        religion = profile["religion"]
        topics.append({"kind": "faith", "category": book.category("faith", religion),
                       "subject": _FAITH_SUBJECT.get(religion, religion)})
    while len(topics) < 4:
        topics.append({"kind": "everyday", "category": book.category("everyday"),
                       "subject": None})
    return topics[:6]
