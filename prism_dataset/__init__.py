"""prism_dataset: the PRISM data side — attribute schema, v1 release reader, priors, generation, builder."""
from prism_core.attributes import ATTRIBUTE_KEYS, ATTRIBUTES, normalise

from .release import Release, ReleaseError

__version__ = "0.1.0"
__all__ = ["ATTRIBUTES", "ATTRIBUTE_KEYS", "normalise", "Release", "ReleaseError", "PrismBuilder"]


def __getattr__(name):
    if name == "PrismBuilder":
        from .builder import PrismBuilder
        return PrismBuilder
    raise AttributeError(name)
