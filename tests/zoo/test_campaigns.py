"""The time-to-first-failure comparison (rnn_impl.testing.zoo.campaigns): each way of searching
times what it finds, says what it did not find within its budget, and the table reads right."""

from __future__ import annotations

import pytest
from hypothesis import settings

from rnn_impl.testing.zoo import ESCAPES, SUBTLE, Bug
from rnn_impl.testing.zoo._hooked import HookedRNN
from rnn_impl.testing.zoo.campaigns import Race, race, to_markdown


@pytest.mark.parametrize(
    "seconds, cell",
    [
        ((1.25,), "1.2 s"),
        ((3.0, None, 1.0), "2.0 s (2 / 3)"),
        ((None, None), "not found (60 s; 0 / 2)"),
    ],
)
def test_a_cell_is_the_median_of_the_finds_with_the_count(seconds, cell):
    assert Race("Bug", "output_exact", "thorough", seconds, "60 s").cell() == cell


def test_the_gate_misses_an_escape_that_a_campaign_finds():
    escape = ESCAPES[0]
    missed = race(escape, "ci", 1, 60)
    examples = settings.get_profile("ci").max_examples
    assert missed.finds == 0 and f"not found ({examples} random examples; 0 / 1)" in missed.cell()
    found = race(escape, "campaign, 2 workers", 1, 300)
    assert found.finds == 1 and 0 < found.seconds[0] < 300
    table = to_markdown([missed, found], "the command", "this CPU", 1.0)
    row = f"| {escape.label} | output_exact | {missed.cell()} |  |  | {found.cell()} |"
    assert row in table and "Measured on this CPU" in table


def test_a_campaign_reaches_a_bug_only_far_examples_show():
    """Sequences past 100 steps: beyond the gate's random draws (its covering set holds them);
    a campaign's far half draws them."""
    long = next(b for b in SUBTLE if b.label == "LongSequenceChunks")
    assert race(long, "campaign, 2 workers", 1, 300).finds == 1


def test_a_search_that_breaks_is_an_error_not_a_miss():
    """A campaign that cannot run (here: its implementation cannot be imported by name) raises,
    never reads as "not found"."""
    unimportable = Bug(lambda *args, **kwargs: HookedRNN(*args, **kwargs), "output_exact")
    with pytest.raises(RuntimeError, match="exited 2"):
        race(unimportable, "campaign, 1 worker", 1, 30)
    with pytest.raises(ValueError, match="unknown way of searching"):
        race(ESCAPES[0], "campaign, 3 workers", 1, 5)
