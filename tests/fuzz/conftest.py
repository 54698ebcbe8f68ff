"""Hypothesis profiles for the fuzz tests of everything that reads strangers' text.

``make test`` runs the ``default`` profile: few examples, derandomised (the same inputs
every run, so a red test is never a fluke) and no example database. For a longer search,
``SIGNALERING_FUZZ=long`` runs many random examples and keeps what it finds in
``.hypothesis/`` (git-ignored), so a failure is replayed first on the next run::

    SIGNALERING_FUZZ=long python -m pytest tests/fuzz -q
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_SLOW_INPUT = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_SLOW_INPUT,
)
settings.register_profile(
    "long",
    max_examples=2_000,
    deadline=None,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    suppress_health_check=_SLOW_INPUT,
)
settings.load_profile(os.environ.get("SIGNALERING_FUZZ", "default"))
