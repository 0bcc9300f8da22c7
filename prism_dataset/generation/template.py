"""The ``template`` text backend: offline and procedural, words every stage from ``phrases.yaml``.

Wording varies by seed; an explicit reveal writes the value (or a documented alias), an
implicit one a cue that does not name it. Deterministic: the same task seed, the same text.
"""
from __future__ import annotations

import random

from .events import event_facts_text
from .phrases import article, load_phrasebook, reveal_value
from .writers import Task, Written

__all__ = ["TemplateWriter"]


class TemplateWriter:
    """Writes events, topic titles, posts and captions without a model."""
    name = "template"
    model = None

    def __init__(self):
        self.book = load_phrasebook()

    def close(self) -> None:
        pass

    def write(self, tasks: list[Task]) -> list[Written]:
        out = []
        for task in tasks:
            rng = random.Random(task.seed)
            try:
                text = getattr(self, f"_{task.stage}")(task.context, rng)
            except KeyError as exc:  # a value the phrase bank cannot word
                out.append(Written(error=f"template: {exc}"))
            else:
                out.append(Written(text=text))
        return out

    # ------------------------------------------------------------ stages

    def _event(self, ctx: dict, rng: random.Random) -> str:
        return event_facts_text(ctx["event"])

    def _topic(self, ctx: dict, rng: random.Random) -> str:
        topic = ctx["topic"]
        templates = self.book.topic_titles(topic["kind"])
        rng.shuffle(templates)
        subjects = topic["subject"] if isinstance(topic["subject"], list) else [topic["subject"]]
        titles = []
        for i, template in enumerate(templates[:3]):
            x = subjects[i % len(subjects)] or ""
            titles.append(template.format(x=x, a_x=article(x)))
        return "\n".join(titles)

    def _post(self, ctx: dict, rng: random.Random) -> str:
        profile, post = ctx["profile"], ctx["post"]
        event = post["event"]
        sentences = []
        text_reveals = [r for r in post["reveals"] if r["channel"] == "text"]
        primary = text_reveals[0] if text_reveals and text_reveals[0]["key"] == event["key"] \
            else None
        if primary is None:
            sentences.append(self.book.pick("neutral", event["kind"], rng))
        for r in text_reveals:
            value = reveal_value(profile, r["key"], r.get("item"))
            sentences.append(self.book.render("text", r["key"], r["mode"], value, profile, rng))
        if rng.random() < 0.6:
            sentences.append(self.book.pick_list("fillers", rng))
        text = " ".join(s for s in sentences if s)
        emoji = self.book.pick_list("emoji", rng)
        return f"{text} {emoji}".strip()

    def _caption(self, ctx: dict, rng: random.Random) -> str:
        profile, post = ctx["profile"], ctx["post"]
        scene = self.book.pick("scenes", post["event"]["kind"], rng)
        parts = [self.book.render("image", r["key"], r["mode"],
                                  reveal_value(profile, r["key"], r.get("item")), profile, rng)
                 for r in post["reveals"] if r["channel"] == "image"]
        caption = scene + (": " + "; ".join(parts) if parts else "")
        return caption[:1].upper() + caption[1:] + "."
