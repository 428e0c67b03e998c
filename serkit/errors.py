"""Errors that serkit raises for bad input.

Every error a user can cause is a :class:`SerkitError`: the CLI prints its message as one
line and exits with status 2, never a traceback. Messages say what was expected, what was
given and how to fix it.
"""


class SerkitError(Exception):
    """Base class of every error caused by user input (files, configs, names)."""


class AudioError(SerkitError):
    """An audio file or buffer that cannot be used: missing, empty, corrupt, silent, ..."""


class CorpusError(SerkitError):
    """A corpus folder, file name or manifest that does not match its corpus's layout."""


class ConfigError(SerkitError):
    """A configuration value or key that is unknown, missing or out of range."""


class SplitError(SerkitError):
    """A split that cannot be made from the data, e.g. more folds than speakers."""


class MissingDependencyError(SerkitError):
    """An optional dependency is needed but not installed."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none), for
    one-line errors that wrap a library's exception."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
