"""Which model plays which role: ``--model`` / ``--role`` specs, and one Backend per distinct spec."""
from __future__ import annotations

import json
from typing import Iterable

from prism_core.backends.base import Backend, get_backend
from prism_core.errors import PrismError

from ..chain import ROLES, VARIANTS

__all__ = ["resolve_roles", "build_backends", "spec_of", "role_backends"]


def resolve_roles(model: str | None, roles: Iterable[str] = (), variant: str = "chain") -> dict[str, str]:
    """Role -> backend spec from ``--model`` (all roles) and ``--role ROLE=SPEC`` overrides.

    The ``single`` role defaults to the synthesis model when only that one is given.
    """
    if variant not in VARIANTS:
        raise PrismError(f"unknown variant {variant!r} (choose from {', '.join(VARIANTS)})")
    specs: dict[str, str] = {r: model for r in ROLES} if model else {}
    given: dict[str, str] = {}
    for item in roles:
        role, sep, spec = item.partition("=")
        role = role.strip()
        if not sep or not spec.strip():
            raise PrismError(f"--role {item!r}: expected ROLE=SPEC, e.g. image=hf:Qwen/Qwen2.5-VL-7B-Instruct")
        if role not in ROLES:
            import difflib
            hint = difflib.get_close_matches(role, ROLES, n=1)
            raise PrismError(f"--role {item!r}: unknown role {role!r}"
                             + (f"; did you mean {hint[0]!r}?" if hint else "")
                             + f" (roles: {', '.join(ROLES)})")
        given[role] = spec.strip()
    specs.update(given)
    if "single" not in given and "synthesis" in given:
        specs["single"] = given["synthesis"]
    needed = VARIANTS[variant]
    missing = [r for r in needed if not specs.get(r)]
    if missing:
        raise PrismError(f"no model for role(s) {', '.join(missing)}: give --model NAME "
                         f"or --role {missing[0]}=SPEC")
    return {r: specs[r] for r in needed}


def build_backends(specs: dict[str, str], options: dict[str, dict] | None = None) -> dict[str, Backend]:
    """One Backend per distinct (spec, options), shared by the roles that name it."""
    options = options or {}
    built: dict[str, Backend] = {}
    out: dict[str, Backend] = {}
    for role, spec in specs.items():
        opts = {**options.get("*", {}), **options.get(role, {})}
        key = json.dumps([spec, opts], sort_keys=True, default=str)
        if key not in built:
            built[key] = get_backend(spec, **opts)
        out[role] = built[key]
    return out


def spec_of(backend: Backend) -> str:
    """The spec string that names ``backend`` ("lexicon", "openai:gpt-4o", ...)."""
    inner = getattr(backend, "backend", backend)
    return f"{inner.name}:{inner.model_id}" if inner.model_id != inner.name else inner.name


def role_backends(backends: dict[str, Backend] | str, variant: str,
                  specs: dict[str, str] | None) -> tuple[dict[str, Backend], dict[str, str], bool]:
    """(role -> backend for ``variant``, role -> spec, whether the backends were built here)."""
    own = isinstance(backends, str)
    if own:
        specs = {r: backends for r in VARIANTS.get(variant, ())}
        backends = build_backends(specs)
    backends = dict(backends)
    if "single" not in backends and "synthesis" in backends:
        backends["single"] = backends["synthesis"]  # as resolve_roles does
    backends = {r: b for r, b in backends.items() if r in VARIANTS.get(variant, ())} or backends
    specs = dict(specs or {r: spec_of(b) for r, b in backends.items()})
    return backends, specs, own
