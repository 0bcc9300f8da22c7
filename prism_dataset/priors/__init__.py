"""Priors over the 12 attributes: declarative YAML tables and the seeded sampler (see prior.py)."""
from .prior import (
    Prior,
    PriorError,
    flatten,
    load_prior,
    prior_names,
    to_attributes,
    user_rng,
)

__all__ = ["Prior", "PriorError", "load_prior", "prior_names", "to_attributes", "flatten", "user_rng"]
