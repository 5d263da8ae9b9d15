"""The one root of every error stage1kit shows a user as a message.

The CLI catches :class:`Stage1kitError` once, at the top, and prints its text (and ``hint``);
anything else is a bug and keeps its traceback. Subclass it for any error whose message tells the
user what was wrong, where (file, line, record, field) and what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click


class Stage1kitError(Exception):
    """An error meant for the user: its message says what went wrong and how to fix it."""

    #: The process exit status the CLI uses for this error.
    exit_code: int = 1


def as_click_error(exc: Stage1kitError) -> "click.ClickException":
    """The message-only click error a user sees for ``exc`` (click imported lazily)."""
    import click

    error = click.ClickException(str(exc))
    error.exit_code = exc.exit_code
    return error
