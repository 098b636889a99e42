"""User-facing errors: one line the user can act on, turned into exit code 2 by the CLI."""

from __future__ import annotations


class CathxError(Exception):
    """An expected mistake in the user's input (bad path, bad file, bad option).

    The message is one line naming the file or option and the problem; the CLI prints it
    without a traceback and exits with code 2.
    """


class DataError(CathxError):
    """A data file or folder cannot be read or is inconsistent."""


class ConfigError(CathxError):
    """A configuration file or value is invalid."""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (a library's error may span many), or its type's name
    when the message is empty: the part of a foreign error that fits in a one-line message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
