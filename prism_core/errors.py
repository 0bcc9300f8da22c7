"""The one base class of the errors a user can fix, shown as one line by the `prism` command."""

__all__ = ["PrismError"]


class PrismError(Exception):
    """A problem the user can fix (a missing API key, an unreadable dataset, a bad option).

    Every user-facing error kind in prism subclasses it; the command line prints its message
    alone, without a traceback, and exits with status 2.
    """
