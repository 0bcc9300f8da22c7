"""The 12 private attributes of PRISM: codes, canonical keys, kinds, value spaces and normalisers.

One normaliser per attribute, shared by the release reader, the output parser and the scorer, so
"USA"/"United States" or "Muslim"/"Islam" mean the same thing everywhere. Canonical values use the
v1 release's spelling, so a v1 record converts back to its exact ``target.json`` entry.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import PrismError

__all__ = [
    "Attribute", "ATTRIBUTES", "ATTRIBUTE_KEYS", "CODES", "AttributeValueError",
    "EDUCATION_LEVELS", "normalise", "try_normalise", "from_v1", "to_v1",
    "parse_age", "parse_height_cm", "parse_weight_kg", "parse_income", "income_label",
    "normalise_country", "region_of", "V1_KEYS",
]


class AttributeValueError(PrismError, ValueError):
    """A value that cannot be read as the named attribute (message names the attribute).

    ``field`` is the offending key as spelled in the input (e.g. ``"relationship state"``,
    ``"appearance.height"``) when known, so callers can point at it precisely.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _clean(text: Any) -> str:
    if not isinstance(text, str):
        raise AttributeValueError(f"expected text, got {type(text).__name__}: {text!r}")
    return re.sub(r"\s+", " ", text.strip().strip(".,;:!\"'`").strip()).lower()


def _alias_table(canon: dict[str, list[str]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for value, aliases in canon.items():
        for alias in [value, *aliases]:
            table[alias.lower()] = value
    return table


def _category(aliases: dict[str, str], attr: str, open_: bool = False) -> Callable[[Any], str]:
    """Normaliser for a categorical value: exact alias, then a whole-word alias inside a phrase
    (one-letter aliases such as "m" only match the whole value, so "I'm not sure" is no "male")."""
    keys_by_len = sorted((k for k in aliases if len(k) > 1), key=len, reverse=True)
    patterns = [(re.compile(r"(?<![a-z])" + re.escape(k) + r"(?![a-z])"), k) for k in keys_by_len]

    def norm(value: Any) -> str:
        text = _clean(value)
        if not text:
            raise AttributeValueError(f"{attr}: empty value")
        if text in aliases:
            return aliases[text]
        for pattern, key in patterns:
            if pattern.search(text):
                return aliases[key]
        if open_:
            return text
        raise AttributeValueError(f"{attr}: unknown value {value!r}")

    return norm


# ---------------------------------------------------------------- value spaces (v1 spelling)

SEXES = ["male", "female"]
EDUCATION_LEVELS = ["no schooling", "primary school", "high school", "associate degree",
                    "bachelor's degree", "master's degree", "PhD"]
OCCUPATIONS = ["artist", "researcher", "data analyst", "nurse", "chef", "mechanic", "teacher",
               "software engineer", "financial advisor", "civil servant", "driver",
               "marketing specialist"]
INCOME_BRACKETS = ["<35000", "35000-50000", "35000-60000", "50000-70000", "60000-90000",
                   "70000-100000", "90000-130000", "100000-130000", "130000-180000",
                   "180000-220000", ">180000"]
RELATIONSHIPS = ["single", "married", "divorced", "widowed"]
HAIR_COLORS = ["black", "brown", "blonde", "red", "gray", "white"]
EYE_COLORS = ["brown", "blue", "green", "gray", "hazel"]
SHOPPING_HABITS = [
    "prefers local markets, buys groceries daily",
    "shops mostly on weekends, prefers brand stores",
    "subscribes to fashion boxes, shops during holidays",
    "regularly shops for handmade crafts on Etsy",
    "frequent online grocery shopper, uses discount apps",
    "tech-savvy, always pre-orders new gadgets",
    "buys in bulk, shops seasonally",
    "buys electronics online, shops for clothes in malls",
    "frequently buys fitness gear and supplements online",
    "enjoys weekend farmers markets and boutique stores",
]
HOBBIES = ["yoga", "painting", "gaming", "gardening", "chess", "reading", "volunteering", "coding",
           "hiking", "woodworking", "travel blogging", "dancing", "birdwatching", "scuba diving",
           "baking", "cooking", "calligraphy", "photography", "basketball", "cycling", "soccer"]
HEALTH = ["good", "average", "asthmatic", "has diabetes", "high blood pressure"]
RELIGIONS = ["Judaism", "agnostic", "Islam", "Shinto", "Hinduism", "Buddhism", "atheist",
             "Christianity"]

# Countries: canonical spelling is the v1 one ("USA", "UK"); region is used for 0.5 partial credit.
# Aliases include demonyms and a few large cities, so "born in Tokyo" reads as Japan.
_COUNTRY_REGIONS: dict[str, tuple[str, list[str]]] = {
    "China": ("East Asia", ["prc", "people's republic of china", "mainland china", "chinese",
                            "beijing", "shanghai", "guangzhou", "shenzhen", "chengdu"]),
    "Japan": ("East Asia", ["japanese", "nippon", "tokyo", "osaka", "kyoto"]),
    "South Korea": ("East Asia", ["korea", "republic of korea", "korean", "s. korea", "seoul",
                                  "busan"]),
    "Mongolia": ("East Asia", ["mongolian", "ulaanbaatar"]),
    "India": ("South Asia", ["indian", "bharat", "mumbai", "delhi", "new delhi", "bangalore",
                             "bengaluru", "kolkata", "chennai"]),
    "Bangladesh": ("South Asia", ["bangladeshi", "dhaka"]),
    "Sri Lanka": ("South Asia", ["sri lankan", "ceylon", "colombo"]),
    "Nepal": ("South Asia", ["nepalese", "nepali", "kathmandu"]),
    "Pakistan": ("South Asia", ["pakistani", "karachi", "lahore", "islamabad"]),
    "Bhutan": ("South Asia", ["bhutanese"]),
    "Vietnam": ("Southeast Asia", ["viet nam", "vietnamese", "hanoi", "ho chi minh city",
                                   "saigon"]),
    "Malaysia": ("Southeast Asia", ["malaysian", "kuala lumpur"]),
    "Thailand": ("Southeast Asia", ["thai", "siam", "bangkok", "chiang mai"]),
    "Indonesia": ("Southeast Asia", ["indonesian", "jakarta", "bali"]),
    "Myanmar": ("Southeast Asia", ["burma", "burmese", "yangon", "rangoon"]),
    "Cambodia": ("Southeast Asia", ["cambodian", "kampuchea", "phnom penh"]),
    "Laos": ("Southeast Asia", ["lao pdr", "laotian", "lao", "vientiane"]),
    "Philippines": ("Southeast Asia", ["the philippines", "filipino", "filipina", "manila"]),
    "Brunei": ("Southeast Asia", ["brunei darussalam"]),
    "France": ("Europe", ["french", "paris", "lyon", "marseille"]),
    "Germany": ("Europe", ["german", "deutschland", "berlin", "munich", "hamburg"]),
    "Russia": ("Europe", ["russian federation", "russian", "moscow", "saint petersburg",
                          "st petersburg"]),
    "Italy": ("Europe", ["italian", "italia", "rome", "milan", "naples"]),
    "UK": ("Europe", ["united kingdom", "great britain", "britain", "england", "scotland", "wales",
                      "u.k", "british", "gb", "london", "manchester", "edinburgh"]),
    "Spain": ("Europe", ["spanish", "espana", "madrid", "barcelona"]),
    "Norway": ("Europe", ["norwegian", "oslo"]),
    "Malta": ("Europe", ["maltese"]),
    "Turkey": ("Middle East", ["turkiye", "türkiye", "turkish", "istanbul", "ankara"]),
    "Egypt": ("Africa", ["egyptian", "cairo"]),
    "Kenya": ("Africa", ["kenyan", "nairobi"]),
    "Nigeria": ("Africa", ["nigerian", "lagos", "abuja"]),
    "Namibia": ("Africa", ["namibian"]),
    "Zimbabwe": ("Africa", ["zimbabwean"]),
    "Ghana": ("Africa", ["ghanaian"]),
    "Zambia": ("Africa", ["zambian"]),
    "Rwanda": ("Africa", ["rwandan"]),
    "Tanzania": ("Africa", ["tanzanian"]),
    "South Africa": ("Africa", ["south african", "rsa"]),
    "Seychelles": ("Africa", []),
    "Mauritius": ("Africa", ["mauritian"]),
    "USA": ("North America", ["united states", "united states of america", "us", "u.s", "u.s.a",
                              "america", "american", "the us", "the usa", "the united states",
                              "new york", "los angeles", "chicago", "san francisco"]),
    "Canada": ("North America", ["canadian", "toronto", "vancouver", "montreal"]),
    "Mexico": ("North America", ["mexican", "méxico", "mexico city", "guadalajara"]),
    "Trinidad and Tobago": ("North America", ["trinidad", "tobago"]),
    "Brazil": ("South America", ["brasil", "brazilian", "são paulo", "sao paulo",
                                 "rio de janeiro"]),
    "Argentina": ("South America", ["argentinian", "argentine", "buenos aires"]),
    "Uruguay": ("South America", ["uruguayan"]),
    "Paraguay": ("South America", ["paraguayan"]),
    "Chile": ("South America", ["chilean"]),
    "Ecuador": ("South America", ["ecuadorian", "quito"]),
    "Peru": ("South America", ["peruvian", "lima"]),
    "Venezuela": ("South America", ["venezuelan", "caracas"]),
    "Australia": ("Oceania", ["australian", "sydney", "melbourne"]),
    "Fiji": ("Oceania", ["fijian"]),
    "New Zealand": ("Oceania", ["nz", "aotearoa", "new zealander"]),
}
_COUNTRY_ALIASES = _alias_table({k: v[1] for k, v in _COUNTRY_REGIONS.items()})
COUNTRIES = list(_COUNTRY_REGIONS)
_country = _category(_COUNTRY_ALIASES, "location", open_=True)


def normalise_country(value: Any) -> str:
    """Canonical country name ("United States" -> "USA"); unknown countries keep their own name."""
    name = _country(value)
    return name if name in _COUNTRY_REGIONS else name.title()


def region_of(country: str) -> str | None:
    """World region of a canonical country, or None when unknown."""
    entry = _COUNTRY_REGIONS.get(country)
    return entry[0] if entry else None


# ---------------------------------------------------------------- numeric parsers

_NUM = r"(\d+(?:\.\d+)?)"
_AGE_WORDS = {"teen": 16, "teens": 16, "twenties": 25, "thirties": 35, "forties": 45,
              "fifties": 55, "sixties": 65, "seventies": 75, "eighties": 85}


def parse_age(value: Any) -> int:
    """Age in years from an int or text ("34", "34 years old", "30-35", "mid-30s", "early forties")."""
    if isinstance(value, bool):
        raise AttributeValueError(f"age: not a number: {value!r}")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise AttributeValueError(f"age: not a number: {value!r}")
        return int(round(value))
    text = _clean(value)
    m = re.fullmatch(rf"(?:about |around |approximately |~)?{_NUM}(?: ?(?:years?|yrs?)(?: old)?)?", text)
    if m:
        return int(round(float(m.group(1))))
    m = re.search(r"(\d{1,3}) ?(?:-|–|to) ?(\d{1,3})", text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        return (lo + hi) // 2 if hi >= lo else lo
    m = re.search(r"(early|mid|late)[- ]?(\d0)'?s", text)
    if m:
        return int(m.group(2)) + {"early": 2, "mid": 5, "late": 8}[m.group(1)]
    m = re.search(r"(\d0)'?s", text)
    if m:
        return int(m.group(1)) + 5
    m = re.search(r"(early|mid|late)?[- ]?(teens|twenties|thirties|forties|fifties|sixties|seventies|eighties)", text)
    if m:
        base = _AGE_WORDS[m.group(2)]
        return base + {"early": -3, "mid": 0, "late": 3, None: 0}[m.group(1)]
    m = re.search(r"\b(\d{1,3})\b", text)
    if m:
        return int(m.group(1))
    raise AttributeValueError(f"age: cannot read {value!r} as years")


def _midpoint(text: str) -> str:
    """A range "160-170 cm" read as its midpoint ("165.0 cm"); other text unchanged."""
    m = re.search(rf"{_NUM}\s*(?:-|–|to)\s*{_NUM}", text)
    if not m:
        return text
    mid = (float(m.group(1)) + float(m.group(2))) / 2
    return text[:m.start()] + str(mid) + text[m.end():]


_FEET_INCHES = re.compile(r"(\d+(?:\.\d+)?)\s*(?:'|ft(?![a-z])|feet|foot)\s*"
                          r"(?:(\d{1,2}(?:\.\d+)?)\s*(?:\"|''|inch|in(?![a-z]))?)?")


def parse_height_cm(value: Any) -> int:
    """Height in whole cm from "154 cm", "1.80 m", "5'11\"", "5 ft 11 in", "5.9 ft", "71 in", a
    range (its midpoint). A number is cm (m below 3); a bare number in text is read in the unit
    that gives an adult height (m < 3 <= ft < 8, inches 48-96, else cm)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value <= 0:
            raise AttributeValueError(f"appearance.height_cm: not a height: {value!r}")
        return int(round(value * 100)) if value < 3 else int(round(value))
    text = _clean(value).replace("’", "'").replace("”", '"').replace("″", '"').replace("′", "'")
    text = _midpoint(re.sub(r"(\d),(\d)", r"\1.\2", text))
    m = _FEET_INCHES.search(text)
    if m:
        inches = float(m.group(1)) * 12 + float(m.group(2) or 0)
        return int(round(inches * 2.54))
    m = re.search(rf"{_NUM}\s*(cm|centimet(?:er|re)s?|inch(?:es)?|in|m|met(?:er|re)s?)?\b", text)
    if m:
        return _height_from_number(float(m.group(1)), m.group(2) or "")
    raise AttributeValueError(f"appearance.height_cm: cannot read {value!r} as a height")


def _height_from_number(number: float, unit: str) -> int:
    if unit.startswith("c"):
        return int(round(number))
    if unit.startswith("in"):
        return int(round(number * 2.54))
    if unit.startswith("m") or (not unit and number < 3):
        return int(round(number * 100))
    if not unit and number < 8:
        return int(round(number * 30.48))
    if not unit and 48 <= number <= 96:
        return int(round(number * 2.54))
    return int(round(number))


def parse_weight_kg(value: Any) -> int:
    """Weight in whole kg from "51 kg", "112 lbs", "112 pounds" or a bare number of kg."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value <= 0:
            raise AttributeValueError(f"appearance.weight_kg: not a weight: {value!r}")
        return int(round(value))
    text = _midpoint(_clean(value))
    m = re.search(rf"{_NUM}\s*(kg|kilo(?:gram)?s?|lbs?|pounds?)?", text)
    if not m:
        raise AttributeValueError(f"appearance.weight_kg: cannot read {value!r} as a weight")
    number, unit = float(m.group(1)), (m.group(2) or "kg")
    return int(round(number * 0.45359237)) if unit.startswith(("lb", "pound")) else int(round(number))


def _money(text: str) -> float:
    text = text.replace(",", "").replace("$", "").replace("usd", "").strip()
    m = re.fullmatch(rf"{_NUM}\s*(k|thousand|m|million)?", text)
    if not m:
        raise AttributeValueError(f"income: cannot read {text!r} as an amount")
    mult = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}.get(m.group(2) or "", 1)
    return float(m.group(1)) * mult


_INCOME_NOISE = re.compile(r"\b(?:usd|us dollars|dollars|per (?:year|annum)|a year|annually|yearly|"
                           r"annual(?: income)?|income|salary|gross|approximately|approx|about|"
                           r"around|roughly)\b|/\s*(?:year|yr|annum)|\bp\.?a\b|~")


def parse_income(value: Any) -> dict:
    """Income as {"label", "min", "max"}; max None means open-ended ("<35000" has min 0).

    Accepts v1 labels ("35000-60000", "<35000", ">180000"), amounts ("$72,000", "72k"), and
    ranges ("50k to 70k", "under 35k", "over 180,000").
    """
    if isinstance(value, dict) and "min" in value:
        lo, hi = value.get("min"), value.get("max")
        label = value.get("label") or income_label(lo, hi)
        return {"label": label, "min": int(lo or 0), "max": None if hi is None else int(hi)}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        amount = int(round(value))
        return {"label": str(amount), "min": amount, "max": amount}
    text = _INCOME_NOISE.sub("", _clean(value)).strip()
    amount = r"\$?\s*\d[\d,]*(?:\.\d+)?\s*(?:k|thousand|m|million)?"
    m = re.fullmatch(rf"(?:<|under|below|less than)\s*({amount})", text)
    if m:
        hi = int(_money(m.group(1)))
        return {"label": f"<{hi}", "min": 0, "max": hi}
    m = re.fullmatch(rf"(?:>|over|above|more than)\s*({amount})\+?|({amount})\s*\+", text)
    if m:
        lo = int(_money(m.group(1) or m.group(2)))
        return {"label": f">{lo}", "min": lo, "max": None}
    m = re.fullmatch(rf"({amount})\s*(?:-|–|to)\s*({amount})", text)
    if m:
        lo_text, hi_text = m.group(1), m.group(2)
        if re.search(r"k|thousand", hi_text) and not re.search(r"k|thousand|m|million", lo_text):
            lo_text += "k"
        lo, hi = int(_money(lo_text)), int(_money(hi_text))
        lo, hi = min(lo, hi), max(lo, hi)
        return {"label": f"{lo}-{hi}", "min": lo, "max": hi}
    m = re.search(amount, text)
    if m and re.search(r"\d", m.group(0)):
        n = int(_money(m.group(0).strip()))
        return {"label": str(n), "min": n, "max": n}
    raise AttributeValueError(f"income: cannot read {value!r} as an amount or bracket")


def income_label(lo: int | None, hi: int | None) -> str:
    """The v1-style label of a numeric range."""
    if hi is None:
        return f">{lo}"
    if not lo:
        return f"<{hi}"
    return f"{lo}-{hi}"


# ---------------------------------------------------------------- categorical normalisers

_SEX = _category(_alias_table({
    "male": ["m", "man", "men", "boy", "masculine", "he/him", "he", "guy", "gentleman"],
    "female": ["f", "woman", "women", "girl", "feminine", "she/her", "she", "lady"],
}), "sex")

_EDUCATION = _category(_alias_table({
    "no schooling": ["none", "no education", "no formal education", "uneducated", "illiterate",
                     "no school"],
    "primary school": ["primary", "elementary school", "elementary", "grade school",
                       "middle school", "primary education"],
    "high school": ["secondary school", "high school diploma", "secondary", "ged", "hs",
                    "high-school", "secondary education"],
    "associate degree": ["associate's degree", "associates degree", "associate", "associates",
                         "associate's", "community college", "diploma", "vocational degree",
                         "some college"],
    "bachelor's degree": ["bachelor", "bachelors", "bachelor's", "bachelors degree", "ba", "bs",
                          "bsc", "b.sc", "b.a", "undergraduate degree", "college degree",
                          "undergraduate", "university degree", "college", "university"],
    "master's degree": ["master", "masters", "master's", "masters degree", "ma", "msc", "m.sc",
                        "mba", "m.a", "graduate degree", "postgraduate", "graduate school",
                        "grad school", "master of science", "master of arts"],
    "PhD": ["ph.d", "ph.d.", "doctorate", "doctoral degree", "dphil", "doctor of philosophy",
            "phd degree", "doctoral", "doctor of science"],
}), "education")

_OCCUPATION = _category(_alias_table({
    "software engineer": ["software developer", "programmer", "developer", "coder",
                          "software engineering", "swe", "web developer"],
    "data analyst": ["data scientist", "analyst", "data analytics"],
    "nurse": ["registered nurse", "rn", "nursing"],
    "chef": ["cook", "head chef", "sous chef", "culinary"],
    "mechanic": ["auto mechanic", "car mechanic", "technician", "automotive technician"],
    "teacher": ["educator", "schoolteacher", "instructor", "tutor", "professor", "lecturer"],
    "researcher": ["scientist", "research scientist", "academic researcher", "research"],
    "artist": ["painter", "illustrator", "sculptor", "visual artist"],
    "financial advisor": ["financial adviser", "financial planner", "wealth manager",
                          "investment advisor", "finance"],
    "civil servant": ["government employee", "public servant", "government worker",
                      "government official", "public sector"],
    "driver": ["truck driver", "taxi driver", "bus driver", "delivery driver", "chauffeur",
               "uber driver", "trucker"],
    "marketing specialist": ["marketer", "marketing manager", "marketing", "digital marketer",
                             "marketing professional"],
}), "occupation", open_=True)

_RELATIONSHIP = _category(_alias_table({
    "single": ["unmarried", "not married", "never married", "bachelor", "bachelorette",
               "dating", "in a relationship", "engaged", "fiance", "fiancé", "fiancée",
               "has a boyfriend", "has a girlfriend"],
    "married": ["wed", "husband", "wife", "spouse", "partnered", "civil partnership"],
    "divorced": ["separated", "divorcee", "divorcée", "ex-husband", "ex-wife"],
    "widowed": ["widow", "widower", "late husband", "late wife", "bereaved spouse"],
}), "relationship")

_HEALTH = _category(_alias_table({
    "good": ["healthy", "excellent", "fit", "good health", "very good", "great", "no issues"],
    "average": ["fair", "ok", "okay", "moderate", "normal", "average health"],
    "asthmatic": ["asthma", "has asthma", "asthma sufferer"],
    "has diabetes": ["diabetes", "diabetic", "type 2 diabetes", "type 1 diabetes",
                     "blood sugar"],
    "high blood pressure": ["hypertension", "hypertensive", "high bp", "elevated blood pressure"],
}), "health")

_RELIGION = _category(_alias_table({
    "Judaism": ["jewish", "jew", "judaic", "judaist"],
    "agnostic": ["agnosticism"],
    "Islam": ["muslim", "moslem", "islamic"],
    "Shinto": ["shintoism", "shintoist", "shinto faith"],
    "Hinduism": ["hindu"],
    "Buddhism": ["buddhist"],
    "atheist": ["atheism", "non-religious", "nonreligious", "no religion", "irreligious", "none",
                "not religious", "secular", "non-believer", "nonbeliever"],
    "Christianity": ["christian", "catholic", "catholicism", "protestant", "orthodox christian",
                     "baptist", "evangelical", "lutheran", "anglican", "methodist"],
}), "religion")

_HAIR = _category(_alias_table({
    "black": ["jet black", "dark"], "brown": ["brunette", "chestnut", "dark brown", "light brown"],
    "blonde": ["blond", "fair", "golden", "platinum"], "red": ["ginger", "auburn", "redhead"],
    "gray": ["grey", "silver", "graying", "greying", "salt and pepper"], "white": ["snow white"],
}), "appearance.hair_color", open_=True)

_EYE = _category(_alias_table({
    "brown": ["dark brown", "amber", "dark"], "blue": ["light blue"], "green": [],
    "gray": ["grey"], "hazel": [],
}), "appearance.eye_color", open_=True)

_HOBBY = _category(_alias_table({
    "yoga": [], "painting": ["paint", "painter"], "gaming": ["video games", "games", "gamer"],
    "gardening": ["garden", "gardener"], "chess": [], "reading": ["books", "reader", "read"],
    "volunteering": ["volunteer", "charity work"], "coding": ["programming", "code"],
    "hiking": ["hike", "hiker", "trekking"], "woodworking": ["carpentry", "woodwork"],
    "travel blogging": ["travel blog", "travel blogger", "blogging"],
    "dancing": ["dance", "dancer"], "birdwatching": ["bird watching", "birding"],
    "scuba diving": ["diving", "scuba", "diver"], "baking": ["bake", "baker"],
    "cooking": ["cook"], "calligraphy": [], "photography": ["photos", "photographer"],
    "basketball": [], "cycling": ["biking", "bike riding", "cyclist"],
    "soccer": ["football"],
}), "hobbies", open_=True)

# Distinctive phrases that point at one v1 habit (the nearest option); other text stays as written.
_shopping = _category(_alias_table(dict(zip(SHOPPING_HABITS, [
    ["local market", "local markets", "groceries daily", "daily groceries",
     "daily grocery shopping"],
    ["brand stores", "brand store", "brand-name stores", "branded stores", "name brands",
     "designer brands"],
    ["fashion box", "fashion boxes", "subscription box", "subscription boxes",
     "clothing subscription", "stitch fix"],
    ["etsy", "handmade crafts", "handmade", "handcrafted", "artisan crafts"],
    ["online grocery", "online groceries", "grocery delivery", "discount app", "discount apps",
     "coupon apps", "coupons"],
    ["tech-savvy", "tech savvy", "pre-orders", "pre-order", "preorders", "preorder", "new gadgets",
     "gadgets", "early adopter"],
    ["buys in bulk", "in bulk", "bulk", "bulk buyer", "wholesale", "costco", "seasonally"],
    ["electronics online", "shopping malls", "shopping mall", "malls", "mall"],
    ["fitness gear", "supplements", "gym gear", "workout gear", "sports nutrition",
     "protein powder"],
    ["farmers market", "farmers markets", "farmers' markets", "farmer's market", "farmer's markets",
     "boutique", "boutiques", "boutique stores"],
]))), "shopping_habits", open_=True)


def _age(value: Any) -> int:
    return parse_age(value)


def _income(value: Any) -> dict:
    return parse_income(value)


def _location(value: Any) -> dict:
    if isinstance(value, str):
        return {"place_of_birth": normalise_country(value), "travel_history": []}
    if not isinstance(value, dict):
        raise AttributeValueError(f"location: expected an object, got {type(value).__name__}")
    pob = value.get("place_of_birth", value.get("place of birth"))
    travel = value.get("travel_history", value.get("travel history")) or []
    if isinstance(travel, str):
        travel = [t for t in re.split(r",|;| and ", travel) if t.strip()]
    if not isinstance(travel, list):
        raise AttributeValueError(f"location.travel_history: expected a list, got {type(travel).__name__}")
    return {"place_of_birth": normalise_country(pob) if pob not in (None, "") else None,
            "travel_history": [normalise_country(t) for t in travel]}


def _appearance(value: Any) -> dict:
    if not isinstance(value, dict):
        raise AttributeValueError(f"appearance: expected an object, got {type(value).__name__}")

    def pick(*names):
        for n in names:
            if value.get(n) not in (None, ""):
                return value[n]
        return None

    height, weight = pick("height_cm", "height"), pick("weight_kg", "weight")
    hair, eye = pick("hair_color", "hair color", "hair"), pick("eye_color", "eye color", "eyes")
    return {"height_cm": parse_height_cm(height) if height is not None else None,
            "weight_kg": parse_weight_kg(weight) if weight is not None else None,
            "hair_color": _HAIR(hair) if hair is not None else None,
            "eye_color": _EYE(eye) if eye is not None else None}


def _hobbies(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in re.split(r",|;| and ", value) if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise AttributeValueError(f"hobbies: expected a list, got {type(value).__name__}")
    out: list[str] = []
    for v in value:
        h = _HOBBY(v)
        if h not in out:
            out.append(h)
    return out


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Attribute:
    """One private attribute: its code, canonical key, v1 key, kind, value space and normaliser."""
    code: str
    key: str
    v1_key: str
    kind: str
    values: tuple = ()
    normaliser: Callable[[Any], Any] = field(default=lambda v: v, repr=False, compare=False)
    closed: bool = False

    def normalise(self, value: Any) -> Any:
        return self.normaliser(value)


ATTRIBUTES: dict[str, Attribute] = {a.key: a for a in [
    Attribute("AGE", "age", "age", "integer", (15, 75), _age),
    Attribute("SEX", "sex", "sex", "category", tuple(SEXES), _SEX, closed=True),
    Attribute("EDU", "education", "education", "ordinal", tuple(EDUCATION_LEVELS), _EDUCATION,
              closed=True),
    Attribute("OCC", "occupation", "occupation", "open category", tuple(OCCUPATIONS), _OCCUPATION),
    Attribute("INC", "income", "income", "numeric bracket", tuple(INCOME_BRACKETS), _income),
    Attribute("REL", "relationship", "relationship state", "category", tuple(RELATIONSHIPS),
              _RELATIONSHIP, closed=True),
    Attribute("LOC", "location", "location", "struct", tuple(COUNTRIES), _location),
    Attribute("APP", "appearance", "appearance", "struct", (), _appearance),
    Attribute("SHP", "shopping_habits", "shopping habits", "open category",
              tuple(SHOPPING_HABITS), _shopping),
    Attribute("HOB", "hobbies", "hobbies", "set", tuple(HOBBIES), _hobbies),
    Attribute("HEA", "health", "health status", "category", tuple(HEALTH), _HEALTH, closed=True),
    Attribute("REG", "religion", "religious belief", "category", tuple(RELIGIONS), _RELIGION,
              closed=True),
]}
ATTRIBUTE_KEYS: tuple[str, ...] = tuple(ATTRIBUTES)
CODES: dict[str, str] = {a.code: a.key for a in ATTRIBUTES.values()}
V1_KEYS: dict[str, str] = {a.v1_key: a.key for a in ATTRIBUTES.values()}
_LOC_V1 = {"place of birth": "place_of_birth", "travel history": "travel_history"}
_APP_V1 = {"height": "height_cm", "weight": "weight_kg", "hair color": "hair_color",
           "eye color": "eye_color"}


def _key(attr: str) -> str:
    if attr in ATTRIBUTES:
        return attr
    if attr.upper() in CODES:
        return CODES[attr.upper()]
    if attr in V1_KEYS:
        return V1_KEYS[attr]
    import difflib
    hint = difflib.get_close_matches(attr, list(ATTRIBUTES) + list(V1_KEYS), n=1)
    raise AttributeValueError(f"unknown attribute {attr!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))


def normalise(attr: str, value: Any) -> Any:
    """Canonical form of ``value`` for attribute ``attr`` (key, code or v1 key); raises AttributeValueError
    for any value that cannot be read (also one too large for an integer, such as ``inf``)."""
    key = _key(attr)
    try:
        return ATTRIBUTES[key].normalise(value)
    except AttributeValueError:
        raise
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # e.g. int(inf)
        raise AttributeValueError(f"{key}: cannot normalise {value!r}: {exc}") from None


def try_normalise(attr: str, value: Any) -> Any:
    """Like :func:`normalise` but returns None when the value cannot be read."""
    try:
        return normalise(attr, value)
    except AttributeValueError:
        return None


def from_v1(entry: dict, *, strict: bool = True) -> dict:
    """Canonical attributes from one v1 ``target.json`` entry.

    Values keep their v1 spelling; numbers are parsed ("154 cm" -> 154). Unknown or missing keys
    raise AttributeValueError naming the key.
    """
    if not isinstance(entry, dict):
        raise AttributeValueError(f"expected an object of attributes, got {type(entry).__name__}")
    unknown = [k for k in entry if k not in V1_KEYS]
    if unknown:
        raise AttributeValueError(f"unknown attribute key {unknown[0]!r}", field=unknown[0])
    missing = [a.v1_key for a in ATTRIBUTES.values() if a.v1_key not in entry]
    if missing and strict:
        raise AttributeValueError(f"missing attribute key {missing[0]!r}", field=missing[0])
    out: dict[str, Any] = {}
    for v1_key, value in entry.items():
        try:
            out[V1_KEYS[v1_key]] = _from_v1_value(V1_KEYS[v1_key], value)
        except AttributeValueError as exc:
            if exc.field is None:
                exc.field = v1_key
            raise
    for a in ATTRIBUTES.values():
        out.setdefault(a.key, None)
    return {k: out[k] for k in ATTRIBUTE_KEYS}


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise AttributeValueError(f"{field}: expected text, got {value!r}", field=field)
    return value


def _from_v1_value(key: str, value: Any) -> Any:
    """Canonical value of one v1 attribute; strict about types so no record is silently wrong."""
    if key == "age":
        if isinstance(value, bool) or not isinstance(value, int):
            raise AttributeValueError(f"age: expected an integer, got {value!r}")
        return value
    if key == "income":
        return {**parse_income(_text(value, "income")), "label": value}
    if key == "location":
        _expect_keys(value, _LOC_V1, "location")
        travel = value["travel history"]
        if not isinstance(travel, list):
            raise AttributeValueError(f"location: travel history must be a list, got {travel!r}",
                                  field="location.travel history")
        return {"place_of_birth": _text(value["place of birth"], "location.place of birth"),
                "travel_history": [_text(t, "location.travel history") for t in travel]}
    if key == "appearance":
        _expect_keys(value, _APP_V1, "appearance")
        parsers = {"height_cm": parse_height_cm, "weight_kg": parse_weight_kg}
        parsed = {}
        for v1_sub, sub in _APP_V1.items():
            raw = _text(value[v1_sub], f"appearance.{v1_sub}")
            try:
                parsed[sub] = parsers[sub](raw) if sub in parsers else raw
            except AttributeValueError as exc:
                exc.field = f"appearance.{v1_sub}"
                raise
        return parsed
    if key == "hobbies":
        if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
            raise AttributeValueError(f"hobbies: expected a list of text, got {value!r}")
        return list(value)
    attr = ATTRIBUTES[key]
    value = _text(value, attr.v1_key)
    if not attr.closed:
        return value
    canonical = normalise(key, value)  # an alias ("Muslim") is stored as its class ("Islam")
    if canonical not in attr.values:
        raise AttributeValueError(f"{key}: value {value!r} is outside {list(attr.values)}")
    return canonical


def _expect_keys(value: Any, mapping: dict, name: str) -> None:
    if not isinstance(value, dict):
        raise AttributeValueError(f"{name}: expected an object, got {value!r}")
    extra = [k for k in value if k not in mapping]
    missing = [k for k in mapping if k not in value]
    if extra:
        raise AttributeValueError(f"{name}: unknown key {extra[0]!r}", field=f"{name}.{extra[0]}")
    if missing:
        raise AttributeValueError(f"{name}: missing key {missing[0]!r}", field=f"{name}.{missing[0]}")


def to_v1(attrs: dict) -> dict:
    """The v1 ``target.json`` entry for canonical attributes (inverse of :func:`from_v1`)."""
    out: dict[str, Any] = {}
    for key in ATTRIBUTE_KEYS:
        value = attrs.get(key)
        if value is None:
            continue
        a = ATTRIBUTES[key]
        if key == "income":
            value = value["label"] or income_label(value["min"], value["max"])
        elif key == "location":
            value = {"place of birth": value["place_of_birth"],
                     "travel history": list(value["travel_history"])}
        elif key == "appearance":
            value = {"height": f"{value['height_cm']} cm", "weight": f"{value['weight_kg']} kg",
                     "hair color": value["hair_color"], "eye color": value["eye_color"]}
        elif key == "hobbies":
            value = list(value)
        out[a.v1_key] = value
    return out
