"""The one root of every error stage1kit shows a user as a message.

The CLI catches :class:`Stage1kitError` once, at the top, and prints its text (and ``hint``);
anything else is a bug and keeps its traceback. Subclass it for any error whose message tells the
user what was wrong, where (file, line, record, field) and what to do.
"""

from __future__ import annotations


class Stage1kitError(Exception):
    """An error meant for the user: its message says what went wrong and how to fix it."""

    #: The process exit status the CLI uses for this error.
    exit_code: int = 1
