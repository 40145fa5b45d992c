"""Errors a user can cause. Each becomes one clear line (CLI) or a 4xx/503 (HTTP), never a traceback."""


class ClbpError(Exception):
    """Base for every error that should reach a user as a one-line message."""

    exit_code = 1


class InvalidQuestion(ClbpError):
    """The question or history cannot be accepted (empty, too long, malformed)."""

    exit_code = 2


class CorpusError(ClbpError):
    """A corpus file is malformed; the message names the file and the field."""


class IndexMissing(ClbpError):
    """No usable index: never built, or damaged."""


class ConfigError(ClbpError):
    """A setting is wrong, for example an embedding model that cannot be loaded."""
