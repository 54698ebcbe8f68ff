"""The errors signalering raises. Only ``cli.py`` turns them into exit codes.

Messages name the thing, the place and the fix, on one line.
"""

from __future__ import annotations


class SignaleringError(Exception):
    """Base of every error a user can act on."""

    exit_code = 2


class ConfigError(SignaleringError):
    """A setting is unknown, of the wrong type, or its file is missing."""


class SourceError(SignaleringError):
    """A source definition or a crawl target is unusable."""


class ModelError(SignaleringError):
    """A model is missing, unreadable or incompatible."""


class StoreError(SignaleringError):
    """The database cannot be reached or written."""


class InputError(SignaleringError):
    """One input record is unusable (not JSON, no text, wrong encoding)."""

    exit_code = 3
