"""The covering sets: arrays that reach every level, pair of levels and crossed combination by
construction.

What a ``ci`` run reaches is, first, each property's covering set (deterministic, run in every
profile before the random search); these tests measure it: every level, every two levels of
every two factors, and every combination of the crossed factors that a row can hold, occur.
"""

from __future__ import annotations

from itertools import combinations, product

import pytest

from rnn_impl.testing import devices
from rnn_impl.testing.covering import (
    CROSSED,
    LEVELS,
    SHORT_SEQ_LEVELS,
    SIZE_LEVELS,
    covering_array,
)
from rnn_impl.testing.properties import BY_NAME, CATALOGUE
from rnn_impl.testing.properties._core import covering_case


def missing(rows, factors, valid=lambda row: True, crossed=()):
    """Pairs of levels, and combinations of levels of the ``crossed`` factors, that some
    allowed row (those levels, every other factor at its first level) could hold but no row
    does."""
    names = list(factors)
    groups = list(combinations(names, 2))
    if len(crossed) > 2:
        groups.append(tuple(crossed))
    cheapest = {name: levels[0] for name, levels in factors.items()}

    def holdable(fixed):
        """Some row holds ``fixed``: the rest at their first levels, or any one of them, or
        any two of them, moved (a wider search than the construction's)."""
        rest = [name for name in names if name not in fixed]
        moves = [{}] + [{n: v} for n in rest for v in factors[n][1:]]
        moves += [
            {a: x, b: y}
            for a, b in combinations(rest, 2)
            for x in factors[a][1:]
            for y in factors[b][1:]
        ]
        return any(valid({**cheapest, **move, **fixed}) for move in moves)

    found = []
    for group in groups:
        seen = {tuple(row[name] for name in group) for row in rows}
        for chosen in product(*(factors[name] for name in group)):
            fixed = dict(zip(group, chosen))
            if chosen not in seen and holdable(fixed):
                found.append(fixed)
    return found


FACTOR_SETS = {
    "two": {"a": [1, 2, 3], "b": "xyz"},
    "one": {"a": [1, 2, 3, 4]},
    "mixed": {"a": range(7), "b": range(5), "c": [True, False], "d": "pqr", "e": [0]},
    "wide": {name: range(6) for name in "abcdefgh"},
}


@pytest.mark.parametrize("name", FACTOR_SETS)
def test_covering_array_covers_every_pair_and_level(name):
    factors = {k: list(v) for k, v in FACTOR_SETS[name].items()}
    rows = covering_array(factors)
    assert missing(rows, factors) == []
    for factor, levels in factors.items():
        assert {row[factor] for row in rows} == set(levels), factor
    assert rows == covering_array(factors), "not deterministic"
    first, second = [*sorted((len(v) for v in factors.values()), reverse=True), 1][:2]
    assert len(rows) <= 2 * first * second, "far from the n1 * n2 lower bound"


def test_covering_array_crosses_the_crossed_factors_in_full():
    factors = {k: list(v) for k, v in FACTOR_SETS["wide"].items()}
    crossed = ("b", "d", "e")
    rows = covering_array(factors, crossed=crossed)
    assert missing(rows, factors, crossed=crossed) == []
    assert len({(row["b"], row["d"], row["e"]) for row in rows}) == 6**3


def test_covering_array_keeps_to_valid_rows_and_leaves_out_impossible_pairs():
    factors = {"a": [1, 2, 4, 8], "b": [1, 2, 4, 8], "c": [1, 3]}

    def small(row):
        return row["a"] * row["b"] * row["c"] <= 8

    rows = covering_array(factors, small)
    assert all(small(row) for row in rows)
    assert missing(rows, factors, small) == []
    assert not any(row["a"] == 8 and row["b"] == 8 for row in rows)


@pytest.mark.parametrize(
    "factors, valid, message",
    [
        ({"a": [1], "b": []}, None, "factor 'b' has no levels"),
        ({"a": [1, 2]}, lambda row: row["a"] > 1, "rules out the row of first levels"),
    ],
)
def test_covering_array_rejects(factors, valid, message):
    with pytest.raises(ValueError, match=message):
        covering_array(factors, valid)


def test_size_levels_reach_every_residue_small_and_large():
    assert {size % 8 for size in SIZE_LEVELS} == set(range(8))
    assert min(SIZE_LEVELS) == 1 and max(SIZE_LEVELS) >= 64
    assert max(LEVELS["seq_len"]) >= 256 and 0 in LEVELS["batch"]


WHERE = [
    pytest.param(prop, device, id=f"{prop.name}-{device}")
    for prop in CATALOGUE
    for device in ("cpu", "meta")
    if any(prop.skip_reason(device, dtype) is None for dtype in devices.FLOAT_DTYPES)
]


@pytest.mark.parametrize("prop, device", WHERE)
def test_each_property_reaches_every_level_and_pair(prop, device):
    """Every level, every pair of levels, and every combination of the crossed factors that a
    row can hold (within the size budget) is in the property's covering set on ``device``, in
    each dtype it runs in."""
    dtypes = tuple(t for t in prop.dtypes if t in devices.dtypes_for(device))
    factors = prop.covering_levels(device)
    rows = prop.covering_rows(device)
    crossed = [name for name in CROSSED if name in factors]
    assert missing(rows, factors, prop.allows, crossed) == []
    for factor, levels in factors.items():
        assert {row[factor] for row in rows} == set(levels), factor
    for dtype in dtypes:
        assert len(prop.covering(device, dtype)) == len(rows), dtype
    assert all(prop.allows(row) for row in rows)


@pytest.mark.parametrize("prop, device", WHERE)
def test_covering_examples_are_what_the_rows_say(prop, device):
    """A row's example has its levels, and its longest sequence is its far level."""
    for index, row in enumerate(prop.covering_rows(device)):
        config, case = covering_case(row, index)
        assert config.kwargs() == {k: row[k] for k in config.kwargs()}
        assert (case.layout, case.seq_len, case.batch, case.with_h0) == (
            row["layout"],
            row["seq_len"],
            row["batch"],
            row["with_h0"],
        )
    far = max(prop.covering_levels(device)["seq_len"])
    assert max(row["seq_len"] for row in prop.covering_rows(device)) == far


@pytest.mark.parametrize("prop", CATALOGUE, ids=lambda p: p.name)
def test_only_properties_that_ask_how_rounding_grows_cover_long_sequences(prop):
    """256 steps on the CPU where the property says it needs them (``long_sequences``: a
    tolerance on outputs or gradients, bit identity); every other property stops at 17
    steps, or at its own levels."""
    far = max(prop.covering_levels("cpu")["seq_len"])
    if "seq_len" in prop.levels:
        assert not prop.long_sequences and far <= max(SHORT_SEQ_LEVELS)
    else:
        assert far == (max(LEVELS["seq_len"]) if prop.long_sequences else max(SHORT_SEQ_LEVELS))


def test_pairs_that_need_another_factor_moved_are_covered():
    """(unbatched, a size) needs batch 1, not batch's first level 0: such pairs were once
    left out as if no row could hold them."""
    rows = CATALOGUE[[p.name for p in CATALOGUE].index("output_close")].covering_rows("cpu")
    pairs = {(row["layout"], row["input_size"]) for row in rows}
    pairs |= {(row["layout"], row["hidden_size"]) for row in rows}
    assert {("unbatched", 1), ("unbatched", 3), ("packed_sorted", 2)} <= pairs


def test_a_factor_drawn_from_a_strategy_needs_its_levels():
    import hypothesis.strategies as st

    from rnn_impl.testing.properties._core import Property

    prop = Property(
        "p",
        "laws",
        lambda implementation, example: None,
        "law",
        "numerics",
        config={"num_layers": st.just(2)},
    )
    with pytest.raises(ValueError, match="give its covering levels in Property.levels"):
        prop.covering("cpu", devices.FLOAT_DTYPES[0])


@pytest.mark.parametrize("profile", ["dev", "ci"])
def test_verify_runs_the_covering_set_first(profile):
    import torch
    from hypothesis import settings

    from rnn_impl.testing.oracle import load_implementation
    from rnn_impl.testing.properties._core import Property
    from rnn_impl.testing.runner import verify

    seen = []
    prop = Property(
        "spy", "laws", lambda implementation, example: seen.append(example), "law", "numerics"
    )
    verification = verify(
        prop,
        load_implementation("torch.nn:RNN"),
        "cpu",
        torch.float64,
        settings.get_profile(profile),
    )
    covering = prop.covering("cpu", torch.float64)
    assert seen[: len(covering)] == covering
    assert verification.examples == len(seen) > len(covering), "the random search did not run"


def test_an_lstm_covering_set_projects_and_a_fixed_projection_narrows_the_hidden_sizes():
    """An LSTM's covering rows cross proj_size 0 and 2 (never at or above the hidden size);
    with proj_size fixed, only hidden sizes above it are levels."""
    prop = BY_NAME["output_close"]
    rows = prop.covering_rows("cpu", fixed={"family": "lstm"})
    assert {r["proj_size"] for r in rows} == {0, 2}
    assert all(r["proj_size"] < r["hidden_size"] for r in rows)
    fixed = prop.covering_rows("cpu", fixed={"family": "lstm", "proj_size": 5})
    assert {r["hidden_size"] for r in fixed} == {13, 22, 63, 64}
    assert "proj_size" not in prop.covering_rows("cpu", fixed={"family": "gru"})[0]
