"""Hypothesis settings profiles shared by pytest and ``rnn-verify``.

* ``dev``: fast local runs (``pytest -n auto`` in about a minute on 2 cores).
* ``ci``: extends Hypothesis' built-in ``ci`` profile (derandomized, no database, no
  deadline), sized so the CI gate takes minutes.
* ``covering``: ``ci`` with one draw past each property's covering rows: the rows are the
  systematic part (every level and pair of levels), the draws what search and the false-alarm
  campaigns add. The gate's torch legs past the wheel leg run it, and its runs of the zoo's
  correct implementations.
* ``thorough``: at least 1000 examples per property; properties ``target()`` their
  normalised error so the search climbs towards the worst case.

The profile is chosen by ``--hypothesis-profile`` (pytest), ``--profile`` (rnn-verify), or
``$RNN_IMPL_PROFILE``; otherwise ``ci`` when ``$CI`` is set, else ``dev``.
"""

from __future__ import annotations

import os

PROFILE_ENV = "RNN_IMPL_PROFILE"
PROFILES = ("dev", "ci", "covering", "thorough")
MAX_EXAMPLES = {"dev": 8, "ci": 30, "covering": 1, "thorough": 1000}


def register_profiles() -> None:
    """Register the profiles of :data:`PROFILES` with Hypothesis (idempotent)."""
    from hypothesis import HealthCheck, settings

    # too_slow only: a torch call is slow by Hypothesis' measure; a strategy that filters too
    # much or draws too much data must fail loudly, not pass on a few examples
    relaxed = [HealthCheck.too_slow]
    settings.register_profile(
        "dev",
        max_examples=MAX_EXAMPLES["dev"],
        deadline=None,
        suppress_health_check=relaxed,
    )
    settings.register_profile(
        "ci",
        settings.get_profile("ci"),
        max_examples=MAX_EXAMPLES["ci"],
        suppress_health_check=relaxed,
        print_blob=True,
    )
    settings.register_profile(
        "covering", settings.get_profile("ci"), max_examples=MAX_EXAMPLES["covering"]
    )
    settings.register_profile(
        "thorough",
        max_examples=MAX_EXAMPLES["thorough"],
        deadline=None,
        suppress_health_check=relaxed,
        database=None,
    )


def default_profile() -> str:
    chosen = os.environ.get(PROFILE_ENV)
    if chosen:
        return chosen
    return "ci" if os.environ.get("CI") else "dev"
