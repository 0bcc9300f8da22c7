"""Errors shown to a user as one line (no traceback) by the `prism` command."""


class UserFacingError(Exception):
    """A problem the user can fix: a missing API key, an unreadable dataset, a bad option.

    Any exception with a true ``user_facing`` attribute is shown this way (``ReleaseError`` in
    prism_dataset has one, since prism_dataset cannot import this module).
    """
    user_facing = True
