"""Old import path of the attribute schema; it lives in :mod:`prism_core.attributes`."""
from prism_core.attributes import *  # noqa: F401,F403
from prism_core.attributes import __all__  # noqa: F401
