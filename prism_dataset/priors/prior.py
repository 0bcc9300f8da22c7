"""Declarative priors over the 12 attributes: YAML tables in, a seeded sampler of profiles out.

A prior file names 16 *variables* (the scalar attributes plus the parts of ``location`` and
``appearance``) and gives each a distribution: a ``marginal`` or a ``table`` conditioned on
earlier variables (``given``), nested one level per parent. Rows are keyed by a parent value, a
named group of values (``groups``), an integer range ``"25-34"`` or ``"*"``. Cells are
probabilities (summing to 1), ``{counts: {...}}``, or for integers ``{normal: {mean, sd}}`` and,
for ``weight_kg``, ``{bmi: {mean, sd}}`` (weight = BMI x height^2). ``set`` variables (hobbies,
travel history) have a ``size`` and an ``items`` distribution and may ``exclude`` the values of
other variables. Hard ``constraints`` (``if`` -> ``then``) are enforced while sampling: a value
that would break one is never drawn. The same seed and user index always give the same profile,
whatever process draws it (the user's generator is seeded from ``(seed, index)`` only).
"""
from __future__ import annotations

import bisect
import difflib
import hashlib
import itertools
import math
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from prism_core.attributes import (
    ATTRIBUTE_KEYS,
    ATTRIBUTES,
    COUNTRIES,
    EYE_COLORS,
    HAIR_COLORS,
    HOBBIES,
    INCOME_BRACKETS,
    OCCUPATIONS,
    SHOPPING_HABITS,
    AttributeValueError,
    normalise,
    normalise_country,
    parse_income,
)
from prism_core.errors import PrismError

__all__ = ["Prior", "PriorError", "load_prior", "prior_names", "PRIOR_DIR", "VARIABLES",
           "to_attributes", "flatten", "user_rng"]

PRIOR_DIR = Path(__file__).resolve().parent
_TOLERANCE = 1e-3          # probabilities may be rounded; a row must sum to 1 within this
_MAX_ENUMERATION = 200_000  # assignments tried when looking for contradictory constraints

# variable -> (kind, attribute it belongs to); order is the canonical listing order
VARIABLES: dict[str, tuple[str, str]] = {
    "sex": ("category", "sex"), "age": ("integer", "age"),
    "place_of_birth": ("category", "location"), "education": ("category", "education"),
    "occupation": ("category", "occupation"), "income": ("category", "income"),
    "relationship": ("category", "relationship"), "health": ("category", "health"),
    "religion": ("category", "religion"), "height_cm": ("integer", "appearance"),
    "weight_kg": ("integer", "appearance"), "hair_color": ("category", "appearance"),
    "eye_color": ("category", "appearance"), "travel_history": ("set", "location"),
    "shopping_habits": ("category", "shopping_habits"), "hobbies": ("set", "hobbies"),
}
_DEFAULT_RANGES = {"age": (15, 75), "height_cm": (130, 215), "weight_kg": (35, 200)}
_KNOWN_VALUES = {"occupation": OCCUPATIONS, "income": INCOME_BRACKETS, "place_of_birth": COUNTRIES,
                 "travel_history": COUNTRIES, "hair_color": HAIR_COLORS, "eye_color": EYE_COLORS,
                 "shopping_habits": SHOPPING_HABITS, "hobbies": HOBBIES}
_CELL_FORMS = ("counts", "normal", "bmi")


class PriorError(PrismError, ValueError):
    """An invalid prior file; the message names the file, the table and the row."""

    def __init__(self, source: str, message: str, table: str | None = None,
                 row: str | None = None):
        self.source, self.table, self.row = source, table, row
        where = [f"prior {source}"]
        if table is not None:
            where.append(f"table {table!r}")
        if row is not None:
            where.append(f"row {row!r}")
        super().__init__(f"{', '.join(where)}: {message}")


def user_rng(seed: int, index: int, stage: str = "profile") -> random.Random:
    """The generator of one user and stage: depends on (seed, index, stage) only."""
    return random.Random(f"prism:{seed}:{index}:{stage}")


# ---------------------------------------------------------------- values

def _canonical(var: str, value: Any) -> Any:
    """The value as the prior must spell it (canonical for the attribute), or raise ValueError."""
    kind = VARIABLES[var][0]
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a text value")
    if var in ("place_of_birth", "travel_history"):
        canon = normalise_country(value)
    elif var == "income":
        canon = parse_income(value)["label"]
    elif var in ("hair_color", "eye_color"):
        canon = normalise("appearance", {var: value})[var]
    elif var == "hobbies":
        canon = normalise("hobbies", [value])[0]
    else:
        attr = ATTRIBUTES[var]
        canon = normalise(var, value)
        if attr.closed and canon not in attr.values:
            raise ValueError(f"{value!r} is not one of {list(attr.values)}")
    if canon != value:
        raise ValueError(f"{value!r} is not canonical (write {canon!r})")
    return value


# ---------------------------------------------------------------- distributions

@dataclass(frozen=True)
class Dist:
    """A finite distribution: values with weights normalised to sum 1."""
    values: tuple
    weights: tuple

    @classmethod
    def of(cls, pairs: dict) -> "Dist":
        items = [(v, float(w)) for v, w in pairs.items() if w > 0]
        total = sum(w for _, w in items)
        return cls(tuple(v for v, _ in items), tuple(w / total for _, w in items))


def _draw(rng: random.Random, values, cum: list):
    """One of ``values`` by cumulative weights ``cum`` (one ``rng.random()`` per draw)."""
    return values[min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)]


@dataclass(frozen=True)
class BMI:
    """Weight from a BMI distribution and the height already drawn (weight = BMI x m^2)."""
    mean: float
    sd: float
    lo: int
    hi: int

    def dist(self, height_cm: int) -> Dist:
        m2 = (height_cm / 100) ** 2
        return Dist.of({kg: math.exp(-0.5 * ((kg / m2 - self.mean) / self.sd) ** 2)
                        for kg in range(self.lo, self.hi + 1)})


@dataclass
class Node:
    """One level of a conditional table: rows for the values of ``parent``."""
    parent: str
    exact: dict = field(default_factory=dict)
    ranges: list = field(default_factory=list)   # (lo, hi, key, child)
    groups: list = field(default_factory=list)   # (members, key, child)
    star: Any = None

    def match(self, value) -> tuple[str, Any] | None:
        if value in self.exact:
            return str(value), self.exact[value]
        for lo, hi, key, child in self.ranges:
            if isinstance(value, int) and lo <= value <= hi:
                return key, child
        for members, key, child in self.groups:
            if value in members:
                return key, child
        if self.star is not None:
            return "*", self.star
        return None


@dataclass
class Table:
    """A variable's distribution: a Dist/BMI, or a Node tree over its ``given`` parents."""
    name: str
    given: tuple
    root: Any

    def lookup(self, values: dict) -> tuple[Any, str]:
        node, path = self.root, []
        while isinstance(node, Node):
            hit = node.match(values[node.parent])
            if hit is None:  # prevented by validation
                raise KeyError(f"no row for {node.parent}={values[node.parent]!r}")
            path.append(hit[0])
            node = hit[1]
        return node, " / ".join(path) or "marginal"


@dataclass(frozen=True)
class Condition:
    var: str
    values: frozenset | None = None   # membership
    negate: bool = False
    lo: float | None = None
    hi: float | None = None

    def holds(self, value) -> bool:
        if self.values is not None:
            return (value in self.values) != self.negate
        return (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)

    def __str__(self) -> str:
        if self.values is not None:
            return f"{self.var} {'not in' if self.negate else 'in'} {sorted(self.values, key=str)}"
        return f"{self.var} in [{self.lo}, {self.hi}]"


@dataclass(frozen=True)
class Constraint:
    """If every ``when`` condition holds, every ``then`` condition must hold."""
    name: str
    when: tuple
    then: tuple

    @property
    def vars(self) -> tuple:
        return tuple(dict.fromkeys(c.var for c in self.when + self.then))

    def satisfied(self, values: dict) -> bool:
        return not all(c.holds(values[c.var]) for c in self.when) or \
            all(c.holds(values[c.var]) for c in self.then)


@dataclass
class Variable:
    name: str
    kind: str
    domain: tuple
    table: Table | None = None          # category / integer
    size: Table | None = None           # set
    items: Table | None = None          # set
    exclude: tuple = ()
    lo: int | None = None
    hi: int | None = None

    @property
    def parents(self) -> tuple:
        tables = [t for t in (self.table, self.size, self.items) if t is not None]
        deps = [p for t in tables for p in t.given] + list(self.exclude)
        if self._uses_bmi():
            deps.append("height_cm")
        return tuple(dict.fromkeys(deps))

    def _uses_bmi(self) -> bool:
        return self.table is not None and any(isinstance(c, BMI) for c in _cells(self.table.root))


def _cells(node):
    if isinstance(node, Node):
        children = list(node.exact.values()) + [c for *_, c in node.ranges] + \
            [c for *_, c in node.groups] + ([node.star] if node.star is not None else [])
        for child in children:
            yield from _cells(child)
    else:
        yield node


# ---------------------------------------------------------------- the prior

class Prior:
    """A validated prior: :meth:`sample` draws user ``index``'s canonical attributes."""

    def __init__(self, spec: dict, source: str = "<dict>", sha256: str | None = None):
        self.source = source
        self.spec = spec
        self.sha256 = sha256 or hashlib.sha256(repr(spec).encode()).hexdigest()
        if not isinstance(spec, dict):
            raise PriorError(source, f"expected a mapping at the top level, got {type(spec).__name__}")
        self.name = str(spec.get("name") or Path(source).stem)
        self.description = str(spec.get("description") or "").strip()
        self.sources = list(spec.get("sources") or [])
        unknown = set(spec) - {"name", "description", "sources", "notes", "groups", "variables",
                               "constraints", "version"}
        if unknown:
            raise PriorError(source, f"unknown top-level key(s) {sorted(unknown)}")
        self.groups = self._parse_groups(spec.get("groups") or {})
        self.variables: dict[str, Variable] = {}
        raw = spec.get("variables")
        if not isinstance(raw, dict):
            raise PriorError(source, "missing 'variables' mapping")
        for name in raw:
            if name not in VARIABLES:
                hint = difflib.get_close_matches(str(name), list(VARIABLES), n=1)
                raise PriorError(source, f"unknown attribute {name!r}" +
                                 (f" (did you mean {hint[0]!r}?)" if hint else "") +
                                 f"; variables are {', '.join(VARIABLES)}", table=str(name))
        missing = [v for v in VARIABLES if v not in raw]
        if missing:
            raise PriorError(source, f"missing attribute(s) {missing}")
        # domains first (tables of later variables refer to earlier domains)
        for name in VARIABLES:
            self.variables[name] = self._declare(name, raw[name])
        for name in VARIABLES:
            self._parse_tables(self.variables[name], raw[name])
        self.order = self._order()
        self.constraints = [self._parse_constraint(i, c)
                            for i, c in enumerate(spec.get("constraints") or [])]
        position = {v: i for i, v in enumerate(self.order)}
        self._masks: dict[str, list[Constraint]] = {v: [] for v in self.order}
        for c in self.constraints:
            self._masks[max(c.vars, key=position.__getitem__)].append(c)
        self._memo: dict = {}
        self._keyvars: dict = {}
        self._check_constraints()

    # ------------------------------------------------------------ parsing

    def _err(self, message, table=None, row=None) -> PriorError:
        return PriorError(self.source, message, table, row)

    def _parse_groups(self, raw) -> dict[str, dict[str, frozenset]]:
        if not isinstance(raw, dict):
            raise self._err("'groups' must map a variable to named lists of values")
        out = {}
        for var, groups in raw.items():
            if var not in VARIABLES:
                raise self._err(f"groups: unknown attribute {var!r}", table="groups")
            if not isinstance(groups, dict):
                raise self._err("expected name -> list of values", table=f"groups.{var}")
            out[var] = {}
            for gname, members in groups.items():
                if not isinstance(members, list) or not members:
                    raise self._err("a group is a non-empty list of values", f"groups.{var}", gname)
                for m in members:
                    self._value(var, m, f"groups.{var}", gname)
                out[var][str(gname)] = frozenset(members)
        return out

    def _value(self, var: str, value, table: str, row: str | None):
        try:
            return _canonical(var, value)
        except (ValueError, AttributeValueError) as exc:
            raise self._err(f"unknown value for {var}: {exc}", table, row) from None

    def _declare(self, name: str, raw) -> Variable:
        kind = VARIABLES[name][0]
        if not isinstance(raw, dict):
            raise self._err("expected a mapping (marginal, or given + table)", table=name)
        declared = raw.get("type", kind)
        if declared != kind:
            raise self._err(f"type must be {kind!r}, got {declared!r}", table=name)
        var = Variable(name, kind, ())
        if kind == "integer":
            rng = raw.get("range", _DEFAULT_RANGES[name])
            if (not isinstance(rng, list) or len(rng) != 2 or
                    not all(isinstance(x, int) for x in rng) or rng[0] > rng[1]):
                raise self._err(f"range must be [low, high] integers, got {rng!r}", table=name)
            var.lo, var.hi = rng
            var.domain = tuple(range(var.lo, var.hi + 1))
            if name == "age" and (var.lo < 15 or var.hi > 75):
                raise self._err(f"age range {rng} leaves the benchmark's 15-75", table=name)
            return var
        values = raw.get("values")
        if values is None:  # the union of every value the tables mention, checked per row
            values = []
            section = raw.get("items") if kind == "set" else raw
            tname = f"{name}.items" if kind == "set" else name
            for row, cell in self._raw_cells(section):
                if isinstance(cell, dict):
                    inner = cell.get("counts", cell) if len(cell) == 1 else cell
                    for k in (inner if isinstance(inner, dict) else {}):
                        if k not in values:
                            values.append(self._value(name, k, tname, row))
        if not isinstance(values, list) or not values:
            raise self._err("no values (give 'values' or a marginal)", table=name)
        var.domain = tuple(self._value(name, v, name, None) for v in values)
        if len(set(var.domain)) != len(var.domain):
            raise self._err("duplicate values", table=name)
        return var

    def _raw_cells(self, section):
        """(row path, cell) of a raw marginal or table, before validation."""
        if not isinstance(section, dict):
            return
        if "marginal" in section:
            yield "marginal", section["marginal"]
        elif "table" in section:
            given = section.get("given")
            depth = len(given) if isinstance(given, list) else 1

            def walk(node, path):
                if len(path) == depth:
                    yield " / ".join(path), node
                elif isinstance(node, dict):
                    for key, child in node.items():
                        yield from walk(child, path + [str(key)])
            yield from walk(section["table"], [])

    def _parse_tables(self, var: Variable, raw: dict) -> None:
        allowed = {"type", "values", "range", "marginal", "given", "table", "size", "items",
                   "exclude", "note", "source"}
        unknown = set(raw) - allowed
        if unknown:
            raise self._err(f"unknown key(s) {sorted(unknown)}", table=var.name)
        if var.kind == "set":
            for part in ("size", "items"):
                if part not in raw:
                    raise self._err(f"a set needs '{part}'", table=var.name)
            var.size = self._table(f"{var.name}.size", raw["size"], "size", var)
            var.items = self._table(f"{var.name}.items", raw["items"], "items", var)
            excl = raw.get("exclude") or []
            excl = [excl] if isinstance(excl, str) else excl
            for e in excl:
                if e not in VARIABLES or VARIABLES[e][0] != "category":
                    raise self._err(f"exclude: {e!r} is not a category variable", table=var.name)
            var.exclude = tuple(excl)
        else:
            var.table = self._table(var.name, raw, "value", var)

    def _table(self, tname: str, raw, role: str, var: Variable) -> Table:
        if not isinstance(raw, dict) or ("marginal" in raw) == ("table" in raw):
            raise self._err("give exactly one of 'marginal' or 'given' + 'table'", table=tname)
        if "marginal" in raw:
            return Table(tname, (), self._cell(tname, "marginal", raw["marginal"], role, var))
        given = raw.get("given")
        given = [given] if isinstance(given, str) else given
        if not isinstance(given, list) or not given:
            raise self._err("'given' must name one or more variables", table=tname)
        for g in given:
            if g not in VARIABLES:
                raise self._err(f"given: unknown attribute {g!r}", table=tname)
            if VARIABLES[g][0] == "set":
                raise self._err(f"given: {g!r} is a set and cannot condition a table", table=tname)
            if g == var.name:
                raise self._err("a variable cannot be given itself", table=tname)
        return Table(tname, tuple(given), self._node(tname, raw["table"], list(given), [], role, var))

    def _node(self, tname, raw, given, path, role, var):
        if not given:
            return self._cell(tname, " / ".join(path), raw, role, var)
        parent, rest = given[0], given[1:]
        pvar = self.variables[parent]
        if not isinstance(raw, dict) or not raw:
            raise self._err(f"expected rows keyed by {parent}", tname, " / ".join(path) or None)
        node = Node(parent)
        for key, child in raw.items():
            row = " / ".join(path + [str(key)])
            sub = self._node(tname, child, rest, path + [str(key)], role, var)
            skey = str(key)
            if skey == "*":
                node.star = sub
            elif pvar.kind == "integer" and (isinstance(key, int) or re.fullmatch(r"\d+-\d+", skey)):
                lo, hi = (key, key) if isinstance(key, int) else map(int, skey.split("-"))
                if lo > hi or lo < pvar.lo or hi > pvar.hi:
                    raise self._err(f"range {skey} is outside {parent} {pvar.lo}-{pvar.hi}", tname, row)
                node.ranges.append((lo, hi, skey, sub))
            elif skey in self.groups.get(parent, {}):
                node.groups.append((self.groups[parent][skey], skey, sub))
            elif key in pvar.domain:
                node.exact[key] = sub
            else:
                raise self._err(f"{key!r} is not a value, group or range of {parent}", tname, row)
        # every parent value must find exactly one most specific row
        for value in pvar.domain:
            if value in node.exact:
                continue
            hits = [k for lo, hi, k, _ in node.ranges if lo <= value <= hi] + \
                   [k for m, k, _ in node.groups if value in m]
            if len(hits) > 1:
                raise self._err(f"rows {hits} overlap for {parent}={value!r}", tname,
                                " / ".join(path) or None)
            if not hits and node.star is None:
                raise self._err(f"no row for {parent}={value!r} (add it, a group or '*')", tname,
                                " / ".join(path) or None)
        return node

    def _cell(self, tname, row, raw, role, var: Variable):
        if not isinstance(raw, dict) or not raw:
            raise self._err(f"expected a mapping of probabilities, got {raw!r}", tname, row)
        if len(raw) == 1 and next(iter(raw)) in _CELL_FORMS:
            form, body = next(iter(raw.items()))
            if form in ("normal", "bmi"):
                if var.kind != "integer" or role != "value":
                    raise self._err(f"'{form}' applies to integer variables only", tname, row)
                if form == "bmi" and var.name != "weight_kg":
                    raise self._err("'bmi' applies to weight_kg only", tname, row)
                if not isinstance(body, dict) or set(body) != {"mean", "sd"} or \
                        not all(isinstance(body[k], (int, float)) for k in body) or body["sd"] <= 0:
                    raise self._err(f"'{form}' needs {{mean, sd > 0}}, got {body!r}", tname, row)
                if form == "bmi":
                    return BMI(float(body["mean"]), float(body["sd"]), var.lo, var.hi)
                return Dist.of({x: math.exp(-0.5 * ((x - body["mean"]) / body["sd"]) ** 2)
                                for x in var.domain})
            if not isinstance(body, dict) or not body:
                raise self._err("'counts' needs a mapping of value -> count", tname, row)
            weights = self._weights(tname, row, body, role, var, counts=True)
            return Dist.of(weights)
        weights = self._weights(tname, row, raw, role, var, counts=False)
        total = sum(weights.values())
        if abs(total - 1) > _TOLERANCE:
            raise self._err(f"probabilities sum to {total:.4f}, not 1", tname, row)
        return Dist.of(weights)

    def _weights(self, tname, row, raw: dict, role, var: Variable, counts: bool) -> dict:
        out: dict = {}
        for key, w in raw.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise self._err(f"{key!r}: {'count' if counts else 'probability'} must be a "
                                f"non-negative number, got {w!r}", tname, row)
            if role == "size":
                if isinstance(key, bool) or not isinstance(key, int) or key < 0:
                    raise self._err(f"set sizes are integers >= 0, got {key!r}", tname, row)
                out[key] = out.get(key, 0) + w
            elif var.kind == "integer":
                skey = str(key)
                m = re.fullmatch(r"(\d+)-(\d+)", skey)
                if isinstance(key, int) and not isinstance(key, bool):
                    lo = hi = key
                elif m:
                    lo, hi = int(m.group(1)), int(m.group(2))
                else:
                    raise self._err(f"{key!r} is not an integer or a range 'a-b'", tname, row)
                if lo > hi or lo < var.lo or hi > var.hi:
                    raise self._err(f"{skey} is outside {var.name} {var.lo}-{var.hi}", tname, row)
                for x in range(lo, hi + 1):
                    out[x] = out.get(x, 0) + w / (hi - lo + 1)
            else:
                if key not in var.domain:
                    self._value(var.name, key, tname, row)   # a precise error for bad spelling
                    raise self._err(f"{key!r} is not among the declared values of {var.name}",
                                    tname, row)
                out[key] = w
        if sum(out.values()) <= 0:
            raise self._err("every weight is zero", tname, row)
        return out

    def _order(self) -> list[str]:
        order, state = [], {}

        def visit(name, chain):
            if state.get(name) == "done":
                return
            if state.get(name) == "active":
                raise self._err(f"circular 'given': {' -> '.join(chain + [name])}", table=name)
            state[name] = "active"
            for p in self.variables[name].parents:
                visit(p, chain + [name])
            state[name] = "done"
            order.append(name)

        for name in VARIABLES:
            visit(name, [])
        return order

    def _parse_constraint(self, i: int, raw) -> Constraint:
        label = f"constraints[{i}]"
        if not isinstance(raw, dict) or "then" not in raw:
            raise self._err("a constraint needs 'then' (and usually 'if')", table=label)
        name = str(raw.get("name") or label)
        unknown = set(raw) - {"name", "if", "then", "why", "source"}
        if unknown:
            raise self._err(f"unknown key(s) {sorted(unknown)}", table="constraints", row=name)
        when = self._conditions(raw.get("if") or {}, name)
        then = self._conditions(raw["then"], name)
        if not then:
            raise self._err("'then' is empty", table="constraints", row=name)
        return Constraint(name, tuple(when), tuple(then))

    def _conditions(self, raw, name) -> list[Condition]:
        if not isinstance(raw, dict):
            raise self._err(f"expected variable -> condition, got {raw!r}", "constraints", name)
        out = []
        for var, cond in raw.items():
            if var not in VARIABLES:
                raise self._err(f"unknown attribute {var!r}", "constraints", name)
            kind = VARIABLES[var][0]
            if kind == "set":
                raise self._err(f"{var!r} is a set; constraints apply to single values",
                                "constraints", name)
            if isinstance(cond, dict) and set(cond) <= {"min", "max"} and cond:
                if kind != "integer":
                    raise self._err(f"min/max apply to integers, not {var!r}", "constraints", name)
                out.append(Condition(var, lo=cond.get("min"), hi=cond.get("max")))
                continue
            negate = isinstance(cond, dict) and set(cond) == {"not"}
            body = cond["not"] if negate else cond
            body = body if isinstance(body, list) else [body]
            values = set()
            for v in body:
                if isinstance(v, str) and v in self.groups.get(var, {}):
                    values |= self.groups[var][v]
                elif v in self.variables[var].domain:
                    values.add(v)
                else:
                    self._value(var, v, "constraints", name)
                    raise self._err(f"{v!r} is not a value of {var}", "constraints", name)
            out.append(Condition(var, frozenset(values), negate))
        return out

    def _check_constraints(self) -> None:
        """Reject constraints that forbid every value of a variable for some condition, or that
        forbid a value the tables give a positive probability everywhere."""
        for target, cons in self._masks.items():
            if not cons:
                continue
            var = self.variables[target]
            others = [v for v in dict.fromkeys(x for c in cons for x in c.vars) if v != target]
            domains = [self._relevant_domain(o, cons) for o in others]
            if math.prod(len(d) for d in domains) * len(var.domain) > _MAX_ENUMERATION:
                continue
            ever_allowed = set()
            for combo in itertools.product(*domains):
                values = dict(zip(others, combo))
                allowed = [x for x in var.domain
                           if all(c.satisfied({**values, target: x}) for c in cons)]
                if not allowed:
                    names = ", ".join(repr(c.name) for c in cons
                                      if not all(c.satisfied({**values, target: x})
                                                 for x in var.domain))
                    cond = ", ".join(f"{k}={v!r}" for k, v in values.items())
                    raise self._err(f"contradictory constraints: {names} forbid every value of "
                                    f"{target} when {cond}", table=target, row=cond or None)
                ever_allowed.update(allowed)
            used = {x for cell in _cells(var.table.root) if isinstance(cell, Dist)
                    for x in cell.values} if var.table else set(var.domain)
            never = [x for x in var.domain if x in used and x not in ever_allowed]
            if never:
                raise self._err(f"contradictory constraints: {target}={never[0]!r} has a positive "
                                f"probability but the constraints never allow it", table=target)

    def _relevant_domain(self, var: str, cons: list[Constraint]) -> list:
        """Representative values of ``var``: one per region the constraints' bounds cut out."""
        domain = list(self.variables[var].domain)
        if self.variables[var].kind != "integer":
            return domain
        cuts = sorted({b for c in cons for cond in c.when + c.then if cond.var == var
                       for b in (cond.lo, None if cond.hi is None else cond.hi + 1) if b is not None})
        edges = [domain[0]] + [x for x in cuts if domain[0] < x <= domain[-1]]
        return sorted(set(edges))

    # ------------------------------------------------------------ sampling

    def _key_vars(self, var: Variable, table: Table, masks: list[Constraint]) -> tuple:
        """The variables a drawn distribution depends on (its memo key)."""
        names = list(table.given) + [v for c in masks for v in c.vars if v != var.name]
        if var.name == "weight_kg" and var._uses_bmi():
            names.append("height_cm")
        return tuple(dict.fromkeys(names))

    def _dist(self, var: Variable, table: Table, values: dict, masks: list[Constraint]):
        """(values, cumulative weights) of ``table`` for the values drawn so far, masked by
        the constraints this variable completes; memoised per relevant values."""
        key_vars = self._keyvars.get(table.name)
        if key_vars is None:
            key_vars = self._keyvars[table.name] = self._key_vars(var, table, masks)
        key = (table.name,) + tuple(values[v] for v in key_vars)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        cell, row = table.lookup(values)
        dist = cell.dist(values["height_cm"]) if isinstance(cell, BMI) else cell
        weights = list(dist.weights)
        if masks:
            for i, x in enumerate(dist.values):
                if weights[i] and not all(c.satisfied({**values, var.name: x}) for c in masks):
                    weights[i] = 0.0
            if not any(weights):
                cond = ", ".join(f"{v}={values[v]!r}" for v in key_vars if v in values)
                raise self._err(f"constraints {[c.name for c in masks]} forbid every value this "
                                f"row allows ({cond})", table=table.name, row=row)
        hit = self._memo[key] = (dist.values, list(itertools.accumulate(weights)), weights)
        return hit

    def sample_values(self, rng: random.Random) -> dict:
        """One draw of every variable (flat form) with ``rng``; constraints are enforced."""
        values: dict = {}
        for name in self.order:
            var = self.variables[name]
            if var.kind == "set":
                sizes, size_cum, _ = self._dist(var, var.size, values, [])
                k = _draw(rng, sizes, size_cum)
                items, _, item_w = self._dist(var, var.items, values, [])
                banned = {values[e] for e in var.exclude}
                pool = [(x, w) for x, w in zip(items, item_w) if w > 0 and x not in banned]
                chosen = []
                for _ in range(min(k, len(pool))):
                    i = _draw(rng, range(len(pool)), list(itertools.accumulate(w for _, w in pool)))
                    chosen.append(pool.pop(i)[0])
                values[name] = chosen
            else:
                vals, cum, _ = self._dist(var, var.table, values, self._masks[name])
                values[name] = _draw(rng, vals, cum)
        return values

    def sample(self, seed: int, index: int) -> dict:
        """The canonical attributes of user ``index`` (identical for equal seed, index, prior)."""
        return to_attributes(self.sample_values(user_rng(seed, index)))

    def violations(self, values: dict) -> list[str]:
        """Names of the constraints that flat ``values`` break."""
        return [c.name for c in self.constraints if not c.satisfied(values)]

    @property
    def label(self) -> str:
        """Name and content hash, recorded as the provenance of generated users."""
        return f"{self.name}@sha256:{self.sha256[:12]}"

    def __repr__(self) -> str:
        return f"Prior({self.label}, {len(self.constraints)} constraints)"


# ---------------------------------------------------------------- profile forms

def to_attributes(values: dict) -> dict:
    """Canonical attributes (the dataset's ``attributes`` struct) from flat variable values."""
    out = {
        "age": values["age"], "sex": values["sex"], "education": values["education"],
        "occupation": values["occupation"], "income": parse_income(values["income"]),
        "relationship": values["relationship"],
        "location": {"place_of_birth": values["place_of_birth"],
                     "travel_history": list(values["travel_history"])},
        "appearance": {"height_cm": values["height_cm"], "weight_kg": values["weight_kg"],
                       "hair_color": values["hair_color"], "eye_color": values["eye_color"]},
        "shopping_habits": values["shopping_habits"], "hobbies": list(values["hobbies"]),
        "health": values["health"], "religion": values["religion"],
    }
    return {k: out[k] for k in ATTRIBUTE_KEYS}


def flatten(attributes: dict) -> dict:
    """Flat variable values from canonical attributes (inverse of :func:`to_attributes`)."""
    loc, app = attributes["location"] or {}, attributes["appearance"] or {}
    income = attributes["income"]
    return {
        "sex": attributes["sex"], "age": attributes["age"],
        "place_of_birth": loc.get("place_of_birth"), "education": attributes["education"],
        "occupation": attributes["occupation"],
        "income": income["label"] if isinstance(income, dict) else income,
        "relationship": attributes["relationship"], "health": attributes["health"],
        "religion": attributes["religion"], "height_cm": app.get("height_cm"),
        "weight_kg": app.get("weight_kg"), "hair_color": app.get("hair_color"),
        "eye_color": app.get("eye_color"), "travel_history": list(loc.get("travel_history") or []),
        "shopping_habits": attributes["shopping_habits"],
        "hobbies": list(attributes["hobbies"] or []),
    }


# ---------------------------------------------------------------- loading

def prior_names() -> list[str]:
    """Names of the priors shipped with the package (``default``, ``v1``)."""
    return sorted(p.stem for p in PRIOR_DIR.glob("*.yaml"))


def _resolve(spec: str | Path) -> Path:
    text = str(spec)
    if text in prior_names():
        return PRIOR_DIR / f"{text}.yaml"
    path = Path(text).expanduser()
    if path.is_file():
        return path.resolve()
    raise PriorError(text, f"not a prior name ({', '.join(prior_names())}) or a YAML file")


def load_prior(spec: str | Path = "default") -> Prior:
    """A prior by name (``default``, ``v1``) or YAML path, validated; cached per file content."""
    path = _resolve(spec)
    data = path.read_bytes()
    return _load(str(spec) if str(spec) in prior_names() else str(path), data)


@lru_cache(maxsize=16)
def _load(source: str, data: bytes) -> Prior:
    import yaml
    try:
        spec = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PriorError(source, f"not valid YAML: {exc}") from None
    return Prior(spec, source, hashlib.sha256(data).hexdigest())
