"""Pairwise covering arrays: few rows in which every pair of levels of every two factors meets.

A bug that shows only where two settings meet (a hidden size of one residue mod 8 *and*
a sequence longer than 16 steps) is found by a covering array by construction, where
independent random draws find it only by luck. For factors of ``n1 >= n2 >= ...`` levels the
array has at least ``n1 * n2`` rows; this greedy construction (in the spirit of AETG) stays
close to that and is deterministic: the same factors give the same rows on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from typing import Any


def pairwise(
    factors: Mapping[str, Sequence[Any]], valid: Callable[[dict[str, Any]], bool] | None = None
) -> list[dict[str, Any]]:
    """Rows (``{factor: level}``) in which every level, and every pair of levels of every two
    factors, occurs, where ``valid`` allows it.

    Args:
        factors: each factor's levels, at least one each, the cheapest first: a partial row
            is judged by ``valid`` completed with the first level of every unset factor.
        valid: which rows may be used (every row, when None); it must hold for the row of
            first levels. A pair it rules out even so completed is left out.

    Returns:
        The rows, in construction order.

    Raises:
        ValueError: a factor without levels, or a ``valid`` that rules out every row.

    Example::

        >>> rows = pairwise({"a": [1, 2], "b": "xy", "c": [True, False]})
        >>> len(rows)
        4
        >>> small = pairwise({"a": [1, 2, 3], "b": [1, 2, 3]}, valid=lambda r: r["a"] * r["b"] <= 3)
        >>> sorted((r["a"], r["b"]) for r in small)
        [(1, 1), (1, 2), (1, 3), (2, 1), (3, 1)]
    """
    names = list(factors)
    levels = [tuple(factors[name]) for name in names]
    for name, values in zip(names, levels):
        if not values:
            raise ValueError(f"pairwise: factor {name!r} has no levels")

    def allowed(row: Sequence[int | None]) -> bool:
        if valid is None:
            return True
        return valid({n: v[0 if i is None else i] for n, v, i in zip(names, levels, row)})

    if not allowed([None] * len(names)):
        raise ValueError("pairwise: valid() rules out the row of first levels")
    return [
        {name: values[i] for name, values, i in zip(names, levels, row)}
        for row in _greedy(tuple(len(v) for v in levels), allowed)
    ]


def _greedy(
    sizes: tuple[int, ...], allowed: Callable[[Sequence[int | None]], bool]
) -> list[tuple[int, ...]]:
    """Rows of level indices (AETG-like): each row starts from the first uncovered pair (or
    level), then fills the factors, most levels first, each with the allowed level that
    covers the most uncovered pairs (ties: the level used least so far)."""
    n = len(sizes)

    def partial(assigned: dict[int, int]) -> list[int | None]:
        return [assigned.get(k) for k in range(n)]

    singles = {(i, a) for i in range(n) for a in range(sizes[i]) if allowed(partial({i: a}))}
    pairs = {
        (i, a, j, b)
        for i, j in combinations(range(n), 2)
        for a in range(sizes[i])
        for b in range(sizes[j])
        if allowed(partial({i: a, j: b}))
    }
    order = sorted(range(n), key=lambda k: -sizes[k])
    used = [[0] * size for size in sizes]
    rows: list[tuple[int, ...]] = []
    while pairs or singles or not rows:
        row: list[int | None] = [None] * n
        if pairs:
            i, a, j, b = min(pairs)
            row[i], row[j] = a, b
        elif singles:
            i, a = min(singles)
            row[i] = a
        for k in order:
            if row[k] is not None:
                continue
            fixed = [(m, level) for m, level in enumerate(row) if level is not None]

            def gain(level: int, k: int = k, fixed: list[tuple[int, int]] = fixed) -> int:
                return sum(
                    ((m, v, k, level) if m < k else (k, level, m, v)) in pairs for m, v in fixed
                )

            options = [
                level for level in range(sizes[k]) if allowed([*row[:k], level, *row[k + 1 :]])
            ]
            row[k] = max(options, key=lambda level: (gain(level), -used[k][level]))
        final = tuple(level for level in row if level is not None)
        for i, j in combinations(range(n), 2):
            pairs.discard((i, final[i], j, final[j]))
        for k, level in enumerate(final):
            singles.discard((k, level))
            used[k][level] += 1
        rows.append(final)
    return rows


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
"""The levels a covering set crosses pairwise, at the ends of each range (no planted bug's
threshold in mind): a property narrows them (``Property.levels``, or a fixed value in its
configuration or draw)."""

META_SEQ_LEN = 32
"""The longest sequence of a covering row on the meta device."""

COVERING_BUDGET = 1 << 16
"""Largest ``T * B * max(I, H) * L * D`` of a covering row (256 steps fit at small widths);
pairs of levels that cannot fit are left out of the covering array."""
