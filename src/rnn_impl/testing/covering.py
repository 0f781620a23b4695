"""Covering arrays: few rows in which every pair of levels of every two factors meets.

A bug that shows only where two settings meet (a hidden size of one residue mod 8 *and*
a sequence longer than 16 steps) is found by a covering array by construction, where
independent random draws find it only by luck; factors crossed in full reach the bugs that
need three or four settings at once. For factors of ``n1 >= n2 >= ...`` levels the
array has at least ``n1 * n2`` rows; this greedy construction (in the spirit of AETG) stays
close to that and is deterministic: the same factors give the same rows on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations, product
from typing import Any


def covering_array(
    factors: Mapping[str, Sequence[Any]],
    valid: Callable[[dict[str, Any]], bool] | None = None,
    crossed: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Rows (``{factor: level}``) in which every level, every pair of levels of every two
    factors, and every combination of levels of the ``crossed`` factors occur, where ``valid``
    allows them.

    Args:
        factors: each factor's levels, at least one each, the cheapest first: a partial row
            is judged by ``valid`` completed with the first level of every unset factor, or
            with one of them moved to another level.
        valid: which rows may be used (every row, when None); it must hold for the row of
            first levels. A pair or combination it rules out however so completed is left
            out.
        crossed: factors crossed in full (a bug that needs three or four of them at once is
            reached by construction); names missing from ``factors`` are ignored.

    Returns:
        The rows, in construction order.

    Raises:
        ValueError: a factor without levels, or a ``valid`` that rules out every row.

    Example::

        >>> rows = covering_array({"a": [1, 2], "b": "xy", "c": [True, False]})
        >>> len(rows)
        4
        >>> len(covering_array({"a": [1, 2], "b": "xy", "c": [True, False]}, crossed="abc"))
        8
        >>> small = covering_array(
        ...     {"a": [1, 2, 3], "b": [1, 2, 3]}, valid=lambda r: r["a"] * r["b"] <= 3
        ... )
        >>> sorted((r["a"], r["b"]) for r in small)
        [(1, 1), (1, 2), (1, 3), (2, 1), (3, 1)]
    """
    names = list(factors)
    levels = [tuple(factors[name]) for name in names]
    for name, values in zip(names, levels):
        if not values:
            raise ValueError(f"covering_array: factor {name!r} has no levels")

    def completed(row: Sequence[int | None]) -> bool:
        return valid is None or valid(
            {n: v[0 if i is None else i] for n, v, i in zip(names, levels, row)}
        )

    def allowed(row: Sequence[int | None]) -> bool:
        """Whether ``row`` can be completed: its unset factors at their first levels, or with
        one of them moved to another level (the constraints a covering set meets couple
        two factors at a time: a layout and its batch, sizes and the budget)."""
        if completed(row):
            return True
        unset = [k for k, level in enumerate(row) if level is None]
        return any(
            completed([*row[:k], level, *row[k + 1 :]])
            for k in unset
            for level in range(1, len(levels[k]))
        )

    if not completed([None] * len(names)):
        raise ValueError("covering_array: valid() rules out the row of first levels")
    sizes = tuple(len(v) for v in levels)
    groups: list[tuple[int, ...]] = [(i,) for i in range(len(names))]
    groups += combinations(range(len(names)), 2)
    group = tuple(i for i, name in enumerate(names) if name in crossed)
    if len(group) > 2:
        groups.append(group)
    wanted: set[Wanted] = set()
    for factor_group in groups:
        for chosen in product(*(range(sizes[i]) for i in factor_group)):
            wanted.add(tuple(zip(factor_group, chosen)))
    wanted = {w for w in wanted if allowed(_partial(dict(w), len(names)))}
    return [
        {name: values[i] for name, values, i in zip(names, levels, row)}
        for row in _greedy(sizes, allowed, wanted)
    ]


Wanted = tuple[tuple[int, int], ...]
"""Levels that must meet in some row: ``((factor, level), ...)`` by index, factors ascending."""


def _partial(assigned: Mapping[int, int], n: int) -> list[int | None]:
    return [assigned.get(k) for k in range(n)]


def _greedy(
    sizes: tuple[int, ...],
    allowed: Callable[[Sequence[int | None]], bool],
    wanted: set[Wanted],
) -> list[tuple[int, ...]]:
    """Rows of level indices (AETG-like): each row starts from the widest uncovered
    combination (ties: the smallest), then fills the factors, most levels first, each with
    the allowed level that completes the most uncovered combinations (ties: the level used
    least so far)."""
    n = len(sizes)
    by_level: dict[tuple[int, int], list[Wanted]] = {}
    for combination in wanted:
        for member in combination:
            by_level.setdefault(member, []).append(combination)
    open_ = set(wanted)
    order = sorted(range(n), key=lambda k: -sizes[k])
    used = [[0] * size for size in sizes]
    rows: list[tuple[int, ...]] = []
    while open_ or not rows:
        row: list[int | None] = [None] * n
        if open_:
            for k, level in min(open_, key=lambda w: (-len(w), w)):
                row[k] = level
        for k in order:
            if row[k] is not None:
                continue
            scores = {
                level: (_completed(row, k, level, by_level, open_), -used[k][level])
                for level in range(sizes[k])
                if allowed([*row[:k], level, *row[k + 1 :]])
            }
            row[k] = max(scores, key=scores.__getitem__)
        final = tuple(level for level in row if level is not None)
        open_ = {w for w in open_ if any(final[k] != level for k, level in w)}
        for k, level in enumerate(final):
            used[k][level] += 1
        rows.append(final)
    return rows


def _completed(
    row: Sequence[int | None],
    k: int,
    level: int,
    by_level: Mapping[tuple[int, int], list[Wanted]],
    open_: set[Wanted],
) -> int:
    """How many open combinations setting factor ``k`` to ``level`` completes in ``row``."""
    return sum(
        all(row[m] == v for m, v in combination if m != k)
        for combination in by_level.get((k, level), ())
        if combination in open_
    )


SIZE_LEVELS = (1, 2, 3, 4, 13, 22, 63, 64)
"""Input and hidden sizes: every residue mod 8, small (1-4), middling and large (up to 64)."""

LEVELS: dict[str, tuple[Any, ...]] = {
    "input_size": SIZE_LEVELS,
    "hidden_size": SIZE_LEVELS,
    "num_layers": (1, 2, 3),
    "nonlinearity": ("tanh", "relu"),
    "bias": (True, False),
    "batch_first": (False, True),
    "dropout": (0.0,),
    "bidirectional": (False, True),
    "layout": ("batched", "unbatched", "packed_sorted", "packed_unsorted"),
    "seq_len": (1, 2, 5, 256),
    "batch": (0, 1, 2, 7),
    "with_h0": (False, True),
}
"""The levels a covering set crosses, at the ends of each range (no planted bug's
threshold in mind): a property narrows them (``Property.levels``, or a fixed value in its
configuration or draw). nn.LSTM's configurations add :data:`PROJ_LEVELS`."""

PROJ_LEVELS = (0, 2)
"""``proj_size`` levels of an LSTM's covering set (a projection of 2 fits every hidden size
from 3)."""

CROSSED = ("num_layers", "bidirectional", "batch", "with_h0")
"""Factors a covering set crosses in full, not only pairwise: which state a layer and
direction starts from and returns depends on all four at once (the reverse direction of the
third layer of a batch of two, started from a given h0)."""

SHORT_SEQ_LEVELS = (1, 2, 5, 17)
"""``seq_len`` levels of a property whose verdict does not grow with the sequence (a law, a
contract, dropout, a conversion: decided within a few steps), the longest past NEAR's 12. The
far level (256 steps) is for the properties that ask how rounding grows step after step
(``Property.long_sequences``); search campaigns draw it for every property
(:data:`~rnn_impl.testing.strategies.FAR`)."""

META_SEQ_LEN = 32
"""The longest sequence of a covering row on the meta device."""

COVERING_BUDGET = 1 << 16
"""Largest ``T * B * max(I, H) * L * D`` of a covering row (256 steps fit at small widths);
pairs of levels that cannot fit are left out of the covering array."""
