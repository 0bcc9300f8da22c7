"""The inference chain: text agent, image agent and synthesis agent, each a role with its own backend.

- **text** agent: the user's posts (and, with topics on, the topics they follow) -> a JSON report
  of guesses per attribute with confidence, post ids and a reason;
- **image** agent: one request per image (optionally with its post's text) -> the same kind of
  report from visual evidence (apparent age and sex, hair and eye colour, build, landmarks,
  religious symbols, brands, medical devices, ...);
- **synthesis** agent: all reports -> the final prediction (prism_core/prediction.py format).

Variants: ``chain`` (all three), ``text-only`` (text + synthesis), ``image-only`` (image +
synthesis), ``single`` (one prompt with every post and image, role ``single``). A user's way
through a variant is written once (``Chain._steps``: evidence calls, then synthesis) and driven
two ways: :meth:`Chain.run` takes a batch of users stage by stage (all text requests in one
``generate`` call, then all image requests, then all synthesis requests), so local models batch;
:meth:`Chain.arun_user` takes one user on an event loop, for API backends (``Chain.flows``), so
that users flow through the stages with no barrier between them. Prompts follow
the ``<user_data>`` / ``[post_id]`` / ``[post_id:image]`` contract of docs/design.md, so the offline
``lexicon`` backend can play every role. Every request carries the tags ``role``,
``template_hash`` and ``user_id``; with ``json_mode`` it asks for JSON with its role's answer
schema (``SCHEMAS``), which backends enforce where they can.

A backend whose ``reads_images`` is false (a text-only model, the lexicon without OCR) in the
``image`` or ``single`` role is not sent images: its image calls are skipped (the single prompt
gets the posts alone), a warning says so once, and :meth:`Chain.not_measured` records the image
channel as not measured -- never a failure per image.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field

from prism_core.attributes import ATTRIBUTE_KEYS
from prism_core.backends.base import Backend, ChatRequest, Generation, schema_hash
from prism_core.errors import PrismError
from prism_core.prediction import answer_schema, empty_prediction

from .datasets_io import UserInput
from .parsing import Parsed, parse_output
from .prompts import PromptTemplate, get_template

__all__ = ["ROLES", "VARIANTS", "SCHEMAS", "Chain", "UserOutcome", "render_posts"]

log = logging.getLogger(__name__)

ROLES = ("text", "image", "synthesis", "single")
VARIANTS: dict[str, tuple[str, ...]] = {
    "chain": ("text", "image", "synthesis"),
    "text-only": ("text", "synthesis"),
    "image-only": ("image", "synthesis"),
    "single": ("single",),
}
TEMPLATES = {"text": "text_agent", "image": "image_agent", "synthesis": "synthesis",
             "single": "single"}
GUIDE = "attribute_guide"
DEFAULT_MAX_TOKENS = {"text": 1024, "image": 512, "synthesis": 1024, "single": 1024}
#: The answer schema of each role (sent with ``response_format="json"``; enforced where the
#: backend can): evidence agents may leave attributes out, the final answer has all of them.
SCHEMAS = {"text": answer_schema(reason=True),
           "image": answer_schema(reason=True, description=True),
           "synthesis": answer_schema(complete=True),
           "single": answer_schema(complete=True)}
IMAGE_ROLES = ("image", "single")


@dataclass
class UserOutcome:
    """What the chain produced for one user: prediction, raw outputs per role, cost, errors."""
    user: UserInput
    prediction: dict = field(default_factory=empty_prediction)
    raw: dict = field(default_factory=dict)
    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    failure: str | None = None
    #: One entry per call: {"role", "image_id" (image calls), "outcome": ok | failed | unparsed,
    #: "error"}.
    call_log: list[dict] = field(default_factory=list)
    #: Images left out: [{"image_id", "reason"}] (unreadable, or outside the release).
    dropped_images: list[dict] = field(default_factory=list)

    @property
    def status(self) -> str:
        """complete (every call answered), partial (some call failed after retries) or failed
        (no prediction could be made)."""
        if self.failure:
            return "failed"
        return "partial" if any(c["outcome"] == "failed" for c in self.call_log) else "complete"

    def count(self, gen: Generation) -> None:
        self.calls += 1
        self.cached += int(bool(gen.cached))
        self.prompt_tokens += int(gen.prompt_tokens or 0)
        self.completion_tokens += int(gen.completion_tokens or 0)
        self.seconds += float(gen.latency_s or 0.0)


_TAGS = re.compile(r"<(/?)user_data>", re.I)


def _one_line(text: str) -> str:
    """User text on one line, with any user_data tags it contains defused (it cannot close the block)."""
    return _TAGS.sub(r"(\1user_data)", " ".join(text.split()))


def render_posts(user: UserInput, *, text: bool = True, images: bool = False,
                 topics: bool = False) -> str:
    """The user_data block body: one ``[post_id] text [post_id:image]`` line per post, then topics."""
    lines = []
    for p in user.posts:
        parts = []
        if text and p.text:
            parts.append(_one_line(p.text))
        if images and p.image is not None:
            parts.append(f"[{p.image_id}]")
        if parts:
            lines.append(f"[{p.post_id}] " + " ".join(parts))
    if topics and user.topics:
        lines += ["", "Topics the user follows:"]
        lines += [f"- {_one_line(cat)}: " + "; ".join(_one_line(t) for t in titles)
                  for cat, titles in user.topics]
    return "\n".join(lines)


class Chain:
    """Runs one variant of the chain over batches of users (:meth:`run`) or one user on an event
    loop (:meth:`arun_user`); see the module docstring.

    ``backends`` maps each role the variant needs to a Backend (the same object may serve
    several roles). ``topics``: show the topics the user follows to the text agent / single
    prompt. ``image_context``: give the image agent the text of the image's post.
    """

    def __init__(self, backends: dict[str, Backend], variant: str = "chain", *, topics: bool = True,
                 image_context: bool = False, max_tokens: dict[str, int] | None = None,
                 temperature: float = 0.0, seed: int | None = None, json_mode: bool = True,
                 prompt_versions: dict[str, int] | None = None):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r} (choose from {', '.join(VARIANTS)})")
        missing = [r for r in VARIANTS[variant] if r not in backends]
        if missing:
            raise ValueError(f"variant {variant!r} needs a backend for role(s) {missing}")
        self.variant, self.roles = variant, VARIANTS[variant]
        self.backends = {r: backends[r] for r in self.roles}
        self.topics, self.image_context = topics, image_context
        self.max_tokens = {**DEFAULT_MAX_TOKENS, **(max_tokens or {})}
        self.temperature, self.seed = temperature, seed
        self.response_format = "json" if json_mode else None
        self.schemas = {r: SCHEMAS[r] for r in self.roles} if json_mode else {}
        #: Image roles whose model reads no images: their image calls are skipped (recorded in
        #: not_measured(), logged once here), the rest of the variant runs as usual.
        self.blind = [r for r in self.roles if r in IMAGE_ROLES
                      and not getattr(self.backends[r], "reads_images", True)]
        for r in self.blind:
            log.warning("%s", self._blind_reason(r))
        versions = prompt_versions or {}
        self.guide = get_template(GUIDE, versions.get(GUIDE))
        self.templates: dict[str, PromptTemplate] = {
            r: get_template(TEMPLATES[r], versions.get(TEMPLATES[r])) for r in self.roles}
        self.template_hashes = {
            r: hashlib.sha256((t.sha256 + self.guide.sha256).encode()).hexdigest()
            for r, t in self.templates.items()}
        self._refresh: dict[str, set] = {}

    def _blind_reason(self, role: str) -> str:
        b = self.backends[role]
        own = b.not_measured().get("image") if hasattr(b, "not_measured") else None
        return own or (f"the {role} model {b.model_id!r} reads no images: its image calls are "
                       f"skipped")

    def not_measured(self) -> dict[str, str]:
        """{channel: reason} for the channels this chain does not measure, e.g.
        ``{"image": "the image model 'smollm2' reads no images: ..."}``; empty when it measures
        every channel its variant uses (summary.json records it as ``not_measured``)."""
        out: dict[str, str] = {}
        for role in self.roles:
            if role in self.blind:
                out.setdefault("image", self._blind_reason(role))
            elif role in IMAGE_ROLES and hasattr(self.backends[role], "not_measured"):
                for channel, why in self.backends[role].not_measured().items():
                    out.setdefault(channel, why)
        return out

    # -------------------------------------------------------------- description

    def describe(self) -> dict:
        """Variant, options, backend per role and prompt versions/hashes (recorded in results)."""
        return {
            "variant": self.variant, "topics": self.topics, "image_context": self.image_context,
            "roles": {r: b.describe() for r, b in self.backends.items()},
            "prompts": {r: {**self.templates[r].describe(), "template_hash": self.template_hashes[r]}
                        for r in self.roles} | {GUIDE: self.guide.describe()},
            "settings": {"max_tokens": {r: self.max_tokens[r] for r in self.roles},
                         "temperature": self.temperature, "seed": self.seed,
                         "response_format": self.response_format,
                         "json_schema": {r: schema_hash(s) for r, s in self.schemas.items()}},
            "not_measured": self.not_measured(),
        }

    # -------------------------------------------------------------- requests

    def _request(self, role: str, user: UserInput, images: list[bytes] | None = None,
                 extra_tags: dict | None = None, **values) -> ChatRequest:
        system, prompt = self.templates[role].render(attribute_guide=self.guide.text.strip(),
                                                     **values)
        tags = {"role": role, "template_hash": self.template_hashes[role],
                "user_id": user.user_id, **(extra_tags or {})}
        if (role, tags.get("image_id")) in self._refresh.get(user.user_id, ()):
            tags["refresh"] = True  # ask again past the cache (an unreadable answer before)
        return ChatRequest.from_prompt(prompt, system=system or None, images=images,
                                       max_tokens=self.max_tokens[role],
                                       temperature=self.temperature, seed=self.seed,
                                       response_format=self.response_format,
                                       json_schema=self.schemas.get(role), tags=tags)

    def _topics_note(self, user: UserInput) -> str:
        return " and the topics they follow" if self.topics and user.topics else ""

    def text_request(self, user: UserInput) -> ChatRequest | None:
        """The text agent's request, or None when the user has no post text."""
        if not any(p.text for p in user.posts):
            return None
        return self._request("text", user, topics_note=self._topics_note(user),
                             posts=render_posts(user, topics=self.topics))

    def image_requests(self, user: UserInput) -> list[tuple[str, ChatRequest]]:
        """(image id, request) for every readable image of the user (none when the image
        model reads no images)."""
        out = []
        if "image" in self.blind:
            return out
        for p in user.posts:
            if p.image is None:
                continue
            context = self.image_context and bool(p.text)
            line = f"[{p.image_id}]" + (f"\n[{p.post_id}] {_one_line(p.text)}" if context else "")
            note = " The text of its post is given for context." if context else ""
            out.append((p.image_id, self._request(
                "image", user, images=[p.image], extra_tags={"image_id": p.image_id},
                image_id=p.image_id, context_note=note, image_line=line)))
        return out

    def synthesis_request(self, user: UserInput, reports: list[tuple[str, Parsed]]) -> ChatRequest:
        """The synthesis request over (source label, parsed report) pairs."""
        blocks = [f"{label}:\n{_report_json(parsed)}" for label, parsed in reports]
        evidence = "\n".join(blocks) if blocks else "No analyst reported any evidence."
        n = len(reports)
        return self._request("synthesis", user, evidence=evidence,
                             sources_note=f" ({n} report{'s' if n != 1 else ''})")

    def single_request(self, user: UserInput) -> ChatRequest | None:
        """The single prompt (all posts, topics and images), or None when the user has nothing.

        A single model that reads no images gets the posts and topics alone."""
        see = "single" not in self.blind
        images = [p for p in user.posts if p.image is not None and see]
        if not images and not any(p.text for p in user.posts):
            return None
        note = ""
        if images:
            ids = ", ".join(f"[{p.image_id}]" for p in images)
            note = (f", with {len(images)} attached image{'s' if len(images) != 1 else ''} "
                    f"(in order: {ids})")
        return self._request("single", user, images=[p.image for p in images],
                             topics_note=self._topics_note(user), images_note=note,
                             posts=render_posts(user, images=see, topics=self.topics))

    # -------------------------------------------------------------- running

    @property
    def flows(self) -> bool:
        """Whether every role's backend takes single requests on an event loop (API backends):
        users can then go through the stages one by one (:meth:`arun_user`), without batches."""
        return all(getattr(b, "async_submit", False) for b in self.backends.values())

    def run(self, users: list[UserInput], refresh: dict[str, set] | None = None) -> list[UserOutcome]:
        """Run the variant over a batch of users, stage by stage: each stage's calls of every user
        go to a role's backend in one ``generate`` call (local models batch them). Never raises
        for one bad user; unreadable images are dropped (recorded on the user).
        ``refresh``: user_id -> {(role, image_id)} of calls to ask again past the cache.
        """
        self._refresh = refresh or {}
        outcomes = [self._begin(u) for u in users]
        live = []  # (steps of a user not done yet, the calls of its current stage)
        for o in outcomes:
            steps = self._steps(o)
            if (jobs := next(steps, None)) is not None:
                live.append((steps, jobs))
        while live:
            answers: list[list] = [[None] * len(jobs) for _, jobs in live]
            for role in ROLES:   # text before image, as the stages always ran
                todo = [(k, j) for k, (_, jobs) in enumerate(live)
                        for j, job in enumerate(jobs) if job[0] == role]
                gens = self._generate(role, [live[k][1][j][2] for k, j in todo])
                for (k, j), gen in zip(todo, gens):
                    answers[k][j] = gen
            live = [(steps, jobs) for (steps, _), got in zip(live, answers)
                    if (jobs := _send(steps, got)) is not None]
        for o in outcomes:
            self._nothing_left(o)
        return outcomes

    async def arun_user(self, user: UserInput, refresh: dict[str, set] | None = None) -> UserOutcome:
        """One user through the variant on the running event loop: a stage's calls are submitted
        together and the next stage starts as soon as they are answered, whatever other users
        wait for (a hung call delays only its user). Never raises for one bad user."""
        self._refresh = refresh or {}
        o = self._begin(user)
        steps = self._steps(o)
        jobs = next(steps, None)
        while jobs is not None:
            jobs = _send(steps, list(await asyncio.gather(
                *(self._asubmit(role, req) for role, _, req in jobs))))
        self._nothing_left(o)
        return o

    def _steps(self, o: UserOutcome):
        """One user's way through the variant, as a generator: it yields the calls of its next
        stage, [(role, image id or None, request)] (never empty), and is sent their answers in
        that order. The drivers decide how calls are made (:meth:`run`, :meth:`arun_user`)."""
        if self.variant == "single":
            req = self._build(o, self.single_request)
            if req is not None:
                [gen] = yield [("single", None, req)]
                self._final(o, "single", gen, "single prompt failed")
            return
        jobs = []
        if "text" in self.roles and (req := self._build(o, self.text_request)) is not None:
            jobs.append(("text", None, req))
        if "image" in self.roles:
            jobs += [("image", i, r) for i, r in self._build(o, self.image_requests) or []]
        answers = (yield jobs) if jobs else []
        reports: list[tuple[str, Parsed]] = []
        for (role, image_id, _), gen in zip(jobs, answers):
            parsed = self._record(o, role, gen, image_id)
            if parsed is not None:
                reports.append((f"Image analyst, from [{image_id}]" if image_id
                                else "Text analyst, from the posts", parsed))
        if o.failure or not o.calls:
            return  # nothing to analyse for this variant (e.g. no images): unanswered
        if not reports:
            o.failure = "every evidence request failed: " + (o.errors[0] if o.errors else "?")
            return
        req = self._build(o, self.synthesis_request, reports)
        if req is not None:
            [gen] = yield [("synthesis", None, req)]
            self._final(o, "synthesis", gen, "synthesis failed")

    def _begin(self, user: UserInput) -> UserOutcome:
        """A new outcome, with the user's unreadable images recorded as dropped when the
        variant reads images."""
        o = UserOutcome(user)
        if any(r in IMAGE_ROLES and r not in self.blind for r in self.roles):
            bad = [p for p in user.posts if p.image_error]
            o.errors.extend(p.image_error for p in bad)
            o.dropped_images.extend({"image_id": p.image_id, "reason": p.image_error} for p in bad)
        return o

    def _final(self, o: UserOutcome, role: str, gen: Generation, what: str) -> None:
        """Record the final answer (synthesis or single): the prediction, or the failure."""
        parsed = self._record(o, role, gen)
        if parsed is None:
            o.failure = f"{what}: {gen.error}"
        else:
            o.prediction = parsed.prediction

    @staticmethod
    def _nothing_left(o: UserOutcome) -> None:
        """A user whose only input was dropped images failed (nothing left to analyse)."""
        if not o.calls and not o.failure and o.dropped_images:
            n = len(o.dropped_images)
            o.failure = (f"nothing to analyse: {n} image(s) dropped "
                         f"({o.dropped_images[0]['reason']})")

    def _generate(self, role: str, requests: list[ChatRequest]) -> list[Generation]:
        """One backend call for a stage. A batch that crashes is retried request by request, so
        a request that cannot be encoded or sent fails only its own user."""
        if not requests:
            return []
        try:
            return self._call(role, requests)
        except PrismError:  # configuration errors stop the run
            raise
        except Exception as exc:
            if len(requests) == 1:
                return [Generation(error=f"{type(exc).__name__}: {exc}")]
        out = []
        for r in requests:
            try:
                out.extend(self._call(role, [r]))
            except PrismError:
                raise
            except Exception as exc:
                out.append(Generation(error=f"{type(exc).__name__}: {exc}"))
        return out

    def _call(self, role: str, requests: list[ChatRequest]) -> list[Generation]:
        gens = self.backends[role].generate(requests)
        if len(gens) != len(requests):
            raise RuntimeError(f"backend returned {len(gens)} answers for {len(requests)} requests")
        return gens

    async def _asubmit(self, role: str, request: ChatRequest) -> Generation:
        """One call on the event loop; an exception fails only this call (configuration
        errors stop the run)."""
        try:
            gen = await self.backends[role].asubmit(request)
        except PrismError:
            raise
        except Exception as exc:
            return Generation(error=f"{type(exc).__name__}: {exc}")
        # the answer is in (and cached): let the requests waiting for a free slot go out before
        # it is parsed -- answers arrive in bursts, and slots would idle behind their parsing
        await asyncio.sleep(0)
        return gen

    def _build(self, o: UserOutcome, make, *args):
        """A request from ``make(user, *args)``; one that cannot be built fails only its user."""
        try:
            return make(o.user, *args)
        except PrismError:
            raise
        except Exception as exc:
            o.failure = f"cannot build the request: {type(exc).__name__}: {exc}"
            o.errors.append(o.failure)
            return None

    def _record(self, o: UserOutcome, role: str, gen: Generation,
                image_id: str | None = None) -> Parsed | None:
        """Account for one answer, keep its raw text, parse it (None when the call failed)."""
        o.count(gen)
        if image_id is None:
            o.raw[role] = gen.text if gen.ok else None
        else:
            o.raw.setdefault(role, {})[image_id] = gen.text if gen.ok else None
        call = {"role": role, **({"image_id": image_id} if image_id else {}),
                "outcome": "ok", "error": None}
        o.call_log.append(call)
        if not gen.ok:
            where = f"{role} agent" + (f" on [{image_id}]" if image_id else "")
            o.errors.append(f"{where}: {gen.error}")
            call.update(outcome="failed", error=gen.error)
            return None
        parsed = parse_output(gen.text, ATTRIBUTE_KEYS, truncated=gen.finish_reason == "length")
        if parsed.method == "none":
            call["outcome"] = "unparsed"
        return parsed


def _send(steps, answers: list[Generation]):
    """The next stage of a user's steps generator after ``answers``; None when it is done."""
    try:
        return steps.send(answers)
    except StopIteration:
        return None


def _report_json(parsed: Parsed) -> str:
    """One agent's parsed report as one line of prediction JSON (with reasons and description)."""
    attrs = {}
    for key, entry in parsed.prediction["attributes"].items():
        entry = dict(entry)
        if parsed.notes.get(key):
            entry["reason"] = parsed.notes[key]
        attrs[key] = entry
    obj: dict = {}
    if parsed.extra.get("description"):
        obj["description"] = parsed.extra["description"]
    obj["attributes"] = attrs
    return json.dumps(obj, ensure_ascii=False, default=str)
