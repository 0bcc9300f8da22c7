"""The generation workflow: Profile -> Events -> Topics -> Posts -> Caption -> Image, per user.

Each stage is a small function of the users' earlier stages and a backend. Users go through
the stages in chunks (one user with the template backend, so streaming yields the first user at
once; ``batch_users`` with model backends, so their calls are batched). Everything random is
seeded from (seed, user index, stage), so a user comes out the same whatever chunk, shard or
process makes it. A user whose backend call fails is skipped, logged, and listed in
``failures.jsonl`` under ``cache_dir``; the other users are generated.
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from ..priors.prior import load_prior
from ..schema import empty_provenance
from .events import plan_events
from .images import get_image_backend, image_seed
from .model import ModelWriter
from .phrases import load_phrasebook
from .plan import leakage_of, plan_posts, plan_topics
from .settings import GENERATOR_VERSION, GenerationSettings
from .template import TemplateWriter
from .writers import Task

__all__ = ["Generator", "Draft", "user_id", "GENERATOR", "GENERATOR_VERSION"]

log = logging.getLogger(__name__)
GENERATOR = "prism_dataset.generation"


def user_id(seed: int, index: int) -> str:
    """The id of generated user ``index`` (the seed is part of it, so sets can be merged)."""
    return f"s{seed}-u{index:06d}"


def _seed(settings: GenerationSettings, index: int, stage: str, key: str = "") -> str:
    return f"prism:{settings.seed}:{index}:{stage}:{key}"


@dataclass
class Draft:
    """One user on its way through the stages; ``error`` stops it."""
    index: int
    user_id: str
    profile: dict
    events: list = field(default_factory=list)
    topics: list = field(default_factory=list)
    posts: list = field(default_factory=list)
    error: str | None = None


# ---------------------------------------------------------------- stages

def profile_stage(prior, settings: GenerationSettings, index: int) -> Draft:
    """Profile: the user's attributes from the prior (seeded by seed and index only)."""
    return Draft(index, user_id(settings.seed, index), prior.sample(settings.seed, index))


def _write(drafts: list[Draft], writer, stage: str, tasks_of, apply) -> None:
    """Send every live draft's tasks for ``stage`` to ``writer`` in one call; a failed task
    stops its user, the others go on."""
    tasks, owners = [], []
    for d in drafts:
        if d.error is None:
            for t in tasks_of(d):
                tasks.append(t)
                owners.append(d)
    if not tasks:
        return
    for d, t, w in zip(owners, tasks, writer.write(tasks)):
        if d.error is not None:
            continue
        if w.error is not None or not (w.text or "").strip():
            d.error = f"stage {stage} ({t.key}): {w.error or 'empty output'}"
        else:
            apply(d, t, w.text.strip())


def events_stage(drafts: list[Draft], writer, settings: GenerationSettings) -> None:
    """Events: a dated life history (planned from the profile), each described by the writer."""
    for d in drafts:
        d.events = plan_events(d.profile, random.Random(_seed(settings, d.index, "events")),
                               at_least=settings.posts_per_user)

    def tasks(d):
        return [Task("event", d.index, f"event{i + 1}", {"profile": d.profile, "event": e},
                     _seed(settings, d.index, "event", str(i))) for i, e in enumerate(d.events)]

    def apply(d, t, text):
        d.events[int(t.key[5:]) - 1]["description"] = text

    _write(drafts, writer, "events", tasks, apply)


def topics_stage(drafts: list[Draft], writer, settings: GenerationSettings) -> None:
    """Topics: v1-style categories with three titles each."""
    book = load_phrasebook()
    for d in drafts:
        if d.error is None:
            d.topics = plan_topics(d.profile, random.Random(_seed(settings, d.index, "topics")),
                                   book)

    def tasks(d):
        return [Task("topic", d.index, f"topic{i + 1}", {"profile": d.profile, "topic": tp},
                     _seed(settings, d.index, "topic", str(i))) for i, tp in enumerate(d.topics)]

    def apply(d, t, text):
        titles = [line.strip() for line in text.splitlines() if line.strip()][:3]
        d.topics[int(t.key[5:]) - 1]["titles"] = titles

    _write(drafts, writer, "topics", tasks, apply)


def posts_stage(drafts: list[Draft], writer, settings: GenerationSettings) -> None:
    """Posts: the leakage plan (which attributes each post reveals, how) and the post texts."""
    book = load_phrasebook()
    image_channel = settings.image_backend != "none"
    for d in drafts:
        if d.error is None:
            d.posts = plan_posts(d.profile, d.events,
                                 random.Random(_seed(settings, d.index, "plan")),
                                 settings.posts_per_user, image_channel, book)

    def tasks(d):
        return [Task("post", d.index, p["post_id"],
                     {"profile": d.profile, "post": p, "history": d.events},
                     _seed(settings, d.index, "post", p["post_id"])) for p in d.posts]

    def apply(d, t, text):
        next(p for p in d.posts if p["post_id"] == t.key)["text"] = text

    _write(drafts, writer, "posts", tasks, apply)


def captions_stage(drafts: list[Draft], writer, settings: GenerationSettings) -> None:
    """Caption: a description of each post's picture, showing its image-channel reveals."""
    def tasks(d):
        return [Task("caption", d.index, p["post_id"], {"profile": d.profile, "post": p},
                     _seed(settings, d.index, "caption", p["post_id"])) for p in d.posts]

    def apply(d, t, text):
        next(p for p in d.posts if p["post_id"] == t.key)["caption"] = text

    _write(drafts, writer, "captions", tasks, apply)


def images_stage(drafts: list[Draft], images, settings: GenerationSettings) -> None:
    """Image: each caption rendered by the image backend (seeded per post)."""
    for d in drafts:
        if d.error is not None:
            continue
        for p in d.posts:
            try:
                p["image"] = images.render(p["caption"],
                                           image_seed(settings.seed, d.index, p["post_id"]))
            except Exception as exc:  # one bad render fails this user only
                d.error = f"stage images ({p['post_id']}): {type(exc).__name__}: {exc}"
                break


def to_record(d: Draft, provenance: dict) -> dict:
    """The dataset row (schema.user_features) of a finished draft."""
    posts = []
    for p in d.posts:
        data = p.get("image")
        name = f"{d.user_id}_{p['post_id']}.png"
        posts.append({"post_id": p["post_id"], "text": p["text"],
                      "image": {"bytes": data, "path": name} if data else None,
                      "image_ref": f"./images/{name}" if data else None,
                      "caption": p["caption"], "timestamp": p["event"]["timestamp"],
                      "event": p["event"]["description"]})
    return {"user_id": d.user_id, "posts": posts,
            "topics": [{"category": t["category"], "titles": t["titles"]} for t in d.topics],
            "attributes": d.profile, "leakage": leakage_of(d.posts), "provenance": provenance}


# ---------------------------------------------------------------- the generator


def get_writer(name: str, model: str | None = None, options: dict | None = None,
               cache_dir: str | None = None):
    """The text backend ``name``: ``template``, or a model backend of prism_core.backends."""
    if name == "template":
        return TemplateWriter()
    return ModelWriter(name, model, dict(options or {}), cache_dir)

class Generator:
    """Generates user records for a :class:`GenerationSettings`; backends load on first use."""

    def __init__(self, settings: GenerationSettings):
        self.settings = settings
        self.prior = load_prior(settings.prior)
        self._writer = self._images = None
        self.failures: list[dict] = []

    @property
    def writer(self):
        if self._writer is None:
            s = self.settings
            self._writer = get_writer(s.text_backend, s.text_model, s.text_options, s.cache_dir)
        return self._writer

    @property
    def images(self):
        if self._images is None:
            s = self.settings
            self._images = get_image_backend(s.image_backend, s.image_model, s.image_size,
                                             s.image_options, s.cache_dir)
        return self._images

    def provenance(self) -> dict:
        s = self.settings
        return empty_provenance(source="synthetic", generator=GENERATOR, version=GENERATOR_VERSION,
                                prior=self.prior.label, text_backend=self.writer.name,
                                text_model=self.writer.model, image_backend=self.images.name,
                                image_model=self.images.model, seed=s.seed)

    def chunk_size(self) -> int:
        if self.settings.text_backend == "template":
            return 1
        return int(self.settings.text_options.get("batch_users", 8))

    def generate_chunk(self, indices: list[int]) -> list[Draft]:
        """All stages for the users ``indices``; failed drafts keep their ``error``."""
        drafts = [profile_stage(self.prior, self.settings, i) for i in indices]
        events_stage(drafts, self.writer, self.settings)
        topics_stage(drafts, self.writer, self.settings)
        posts_stage(drafts, self.writer, self.settings)
        captions_stage(drafts, self.writer, self.settings)
        images_stage(drafts, self.images, self.settings)
        return drafts

    def records(self, indices: Iterable[int]) -> Iterator[dict]:
        """Records of the users ``indices`` in order, chunk by chunk; failures are skipped."""
        indices = list(indices)
        provenance = self.provenance()
        size = max(1, self.chunk_size())
        for start in range(0, len(indices), size):
            for d in self.generate_chunk(indices[start:start + size]):
                if d.error is None:
                    yield to_record(d, provenance)
                else:
                    self._fail(d)

    def _fail(self, d: Draft) -> None:
        entry = {"user_id": d.user_id, "index": d.index, "error": d.error,
                 "text_backend": self.settings.text_backend, "text_model": self.settings.text_model}
        self.failures.append(entry)
        log.warning("synthetic user %s (index %d) skipped: %s", d.user_id, d.index, d.error)
        if self.settings.cache_dir:
            path = Path(self.settings.cache_dir) / "failures.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:  # one line per write: safe across processes
                f.write(json.dumps(entry) + "\n")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

