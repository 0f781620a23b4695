"""The time-to-first-failure comparison (rnn_impl.testing.zoo.campaigns): each way of searching
times what it finds, says what it did not find within its budget, and the table reads right."""

from __future__ import annotations

import pytest

from rnn_impl.testing.zoo import ESCAPES, SUBTLE, ZOO
from rnn_impl.testing.zoo.campaigns import WAYS, Race, race, to_markdown


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


def test_the_subtle_bugs_are_in_the_zoo_and_the_escapes_are_not():
    assert set(SUBTLE) <= set(ZOO) and not set(ESCAPES) & set(ZOO) and len(SUBTLE) >= 7


def test_the_gate_misses_an_escape_that_a_campaign_finds():
    escape = ESCAPES[0]
    missed = race(escape, "ci", 1, 60)
    assert missed.finds == 0 and "not found (30 random examples; 0 / 1)" in missed.cell()
    found = race(escape, "campaign, 2 workers", 1, 120)
    assert found.finds == 1 and 0 < found.seconds[0] < 120
    table = to_markdown([missed, found], "python -m rnn_impl.testing.zoo --campaigns")
    row = f"| {escape.label} | output_exact | {missed.cell()} |  |  | {found.cell()} |"
    assert row in table and len(WAYS) == 4


def test_a_campaign_reaches_a_bug_only_far_examples_show():
    """Sequences past 100 steps: beyond the gate's random draws (its covering set holds them);
    a campaign's far half draws them."""
    long = next(b for b in SUBTLE if b.label == "LongSequenceChunks")
    assert race(long, "campaign, 2 workers", 1, 120).finds == 1
