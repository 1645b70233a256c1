"""The one base class of every error this package reports to a user as a clear message.

The CLI prints such an error as one line and exits with status 2; anything else is
a bug, printed as one line too, with the traceback behind ``--debug``.
"""


class StretchnasError(Exception):
    """A problem the user can act on; the message names the file, field or run and the cause."""
