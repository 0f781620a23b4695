"""The detection-power measurement: its confidence bound and its counting of kills and misses."""

from __future__ import annotations

import pytest

from rnn_impl.testing.zoo import ZOO, Bug
from rnn_impl.testing.zoo._hooked import HookedRNN
from rnn_impl.testing.zoo.power import kill_rate_lower_bound, measure, to_markdown


@pytest.mark.parametrize("runs", [1, 20, 50])
def test_every_run_killing_gives_the_closed_form_bound(runs):
    assert kill_rate_lower_bound(runs, runs) == pytest.approx(0.05 ** (1 / runs), rel=1e-9)


def test_the_bound_grows_with_kills_and_is_zero_without_any():
    bounds = [kill_rate_lower_bound(k, 20) for k in range(21)]
    assert bounds[0] == 0.0 and bounds == sorted(bounds) and bounds[-1] < 1.0
    assert kill_rate_lower_bound(5, 10) == pytest.approx(0.2224, abs=1e-4)  # Clopper-Pearson


def test_a_bug_is_counted_killed_and_a_correct_implementation_missed():
    killed = measure(next(b for b in ZOO if b.label == "MissingBias"), "dev", runs=2)
    assert (killed.kills, killed.runs, killed.as_ci) == (2, 2, True)
    assert killed.examples >= 1 and killed.seconds > 0
    correct = measure(Bug(HookedRNN, "output_close", name="control"), "dev", runs=2)
    assert (correct.kills, correct.as_ci, correct.lower_bound) == (0, False, 0.0)
    table = to_markdown([killed, correct], "python -m rnn_impl.testing.zoo --power")
    assert "| MissingBias | output_close | dev | 2 / 2 |" in table
    assert "| control | output_close | dev | 0 / 2 | 0.000 |" in table and "SURVIVED" in table
