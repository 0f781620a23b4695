"""The detection-power and false-alarm measurements: the confidence bound, the counting of kills,
misses and rejections, and the false-alarm log a campaign resumes from."""

from __future__ import annotations

import json

import pytest

from rnn_impl.testing.zoo import CORRECT, ZOO, Bug
from rnn_impl.testing.zoo._hooked import HookedRNN
from rnn_impl.testing.zoo.power import (
    Power,
    alarms_markdown,
    false_alarms,
    in_turn_row,
    kill_rate_lower_bound,
    measure,
    power,
    to_markdown,
)


@pytest.mark.parametrize("runs", [1, 20, 50])
def test_every_run_killing_gives_the_closed_form_bound(runs):
    assert kill_rate_lower_bound(runs, runs) == pytest.approx(0.05 ** (1 / runs), rel=1e-9)


def test_the_bound_grows_with_kills_and_is_zero_without_any():
    bounds = [kill_rate_lower_bound(k, 20) for k in range(21)]
    assert bounds[0] == 0.0 and bounds == sorted(bounds) and bounds[-1] < 1.0
    assert kill_rate_lower_bound(5, 10) == pytest.approx(0.2224, abs=1e-4)  # Clopper-Pearson


@pytest.mark.parametrize(
    "weakest, nature",
    [
        ("output_close", "maths"),
        ("streaming", "maths"),
        ("output_exact", "order-only"),
        ("repr", "contract"),
        ("", "not killed"),
    ],
)
def test_a_bug_is_maths_contract_or_order_only_by_the_weakest_property_that_kills_it(
    weakest, nature
):
    assert Power("B", "output_exact", "ci", 1, 1, True, 1, 0.1, weakest).nature == nature


def test_a_bug_is_counted_killed_and_a_correct_implementation_missed():
    killed = measure(next(b for b in ZOO if b.label == "MissingBias"), "dev", runs=2)
    assert (killed.kills, killed.runs, killed.as_ci) == (2, 2, True)
    assert killed.examples >= 1 and killed.seconds > 0
    correct = measure(Bug(HookedRNN, "output_close", name="control"), "dev", runs=2)
    assert (correct.kills, correct.as_ci, correct.lower_bound) == (0, False, 0.0)
    table = to_markdown([killed, correct], "python -m rnn_impl.testing.zoo --power")
    assert "| MissingBias | output_close | dev | 2 / 2 |" in table
    assert "| control | output_close | dev | 0 / 2 | 0.000 |" in table and "SURVIVED" in table


def test_power_on_workers_measures_what_one_process_measures():
    """The same seeds give the same kills and examples, whichever process runs them."""
    bugs = tuple(b for b in ZOO if b.label in ("MissingBias", "ReverseNotFlippedBack"))
    alone = sorted(power(bugs, ["dev"], 2), key=lambda r: r.bug)
    shared = sorted(power(bugs, ["dev"], 2, workers=2), key=lambda r: r.bug)
    assert [r.bug for r in shared] == ["MissingBias", "ReverseNotFlippedBack"]
    assert [(r.kills, r.examples, r.as_ci, r.weakest) for r in shared] == [
        (r.kills, r.examples, r.as_ci, r.weakest) for r in alone
    ]


def test_a_false_alarm_campaign_resumes_from_its_log(tmp_path, capsys):
    """Runs kept in the log are not run again: a longer campaign extends a shorter one, and
    a rejection is counted and reported."""
    log = tmp_path / "runs.jsonl"
    cell = [b for b in CORRECT if b.label == "rnn_impl.RNNCell"]
    first = false_alarms(cell, "dev", 1, 1, ["cell_output_close"], ["float64"], log)
    assert [(r.runs, r.rejections) for r in first] == [(1, 0)] and len(
        log.read_text().splitlines()
    ) == 1
    rejected = json.loads(log.read_text())
    rejected[5] = "planted rejection"
    log.write_text(json.dumps(rejected) + "\n")
    capsys.readouterr()
    longer = false_alarms(cell, "dev", 2, 1, ["cell_output_close"], ["float64"], log)
    ran = capsys.readouterr().err
    assert "seed 1: passed" in ran and "seed 0" not in ran, "seed 0 was in the log"
    assert [(r.runs, r.rejections, r.first) for r in longer] == [(2, 1, "planted rejection")]
    assert longer[0].examples == first[0].examples * 2
    assert "Rows with a false alarm: 1 of 1." in alarms_markdown(longer, "command")


@pytest.mark.parametrize("controls, dtypes", [(8, 4), (11, 4), (3, 2), (5, 1)])
def test_runs_in_turn_reach_every_control_and_dtype_pair_and_the_dtypes_equally(controls, dtypes):
    rows = [(c, "output_close", d) for c in range(controls) for d in range(dtypes)]
    ran = [in_turn_row(rows, seed) for seed in range(controls * dtypes)]
    assert sorted(ran) == rows
    first = [d for _, _, d in ran[:20]]
    assert max(map(first.count, range(dtypes))) - min(map(first.count, range(dtypes))) <= 2


def test_runs_in_turn_make_one_row_per_property(tmp_path):
    cells = [b for b in CORRECT if b.label in ("rnn_impl.RNNCell", "torch.nn.RNNCell")]
    rows = false_alarms(
        cells, "dev", 3, 1, ["cell_output_close"], ["float64", "float32"], None, True
    )
    (row,) = rows
    assert (row.prop, row.runs, row.rejections) == ("cell_output_close", 3, 0)
    assert row.implementation.startswith("2 in turn: ") and set(row.dtype.split(", ")) == {
        "float64",
        "float32",
    }
    assert "One row per property" in alarms_markdown(rows, "command", in_turn=True)
