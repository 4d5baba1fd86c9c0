"""Hypothesis profiles for the schema fuzzing.

``make test`` runs the ``fixed`` profile: a fixed seed (derandomised), so a run is repeatable
and fast. ``make fuzz`` runs the ``long`` profile (``HYPOTHESIS_PROFILE=long``): fresh random
examples, many more of them, and failures kept in ``.hypothesis/`` to replay.
"""

from __future__ import annotations

import os

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, Phase, settings  # noqa: E402

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "fixed",
    derandomize=True,
    database=None,
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
    print_blob=True,
    # No shrinking in `make test`: the big ICA pages take minutes to shrink; the failing example
    # is printed as found (and repeatable: the seed is fixed). `make fuzz` shrinks.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")),
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))
