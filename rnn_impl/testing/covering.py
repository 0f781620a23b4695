"""Pairwise covering arrays: few rows in which every pair of levels of every two factors meets.

A bug that shows only where two settings meet (a hidden size of one residue mod 8 *and*
a sequence longer than 16 steps) is found by a covering array by construction, where
independent random draws find it only by luck. For factors of ``n1 >= n2 >= ...`` levels the
array has at least ``n1 * n2`` rows; this greedy construction (in the spirit of AETG) stays
close to that and is deterministic: the same factors give the same rows on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import combinations
from typing import Any


def pairwise(factors: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows (``{factor: level}``) in which every pair of levels of every two factors occurs.

    Args:
        factors: each factor's levels, at least one each; order matters only for determinism.

    Returns:
        The rows, in construction order.

    Raises:
        ValueError: a factor without levels.

    Example::

        >>> rows = pairwise({"a": [1, 2], "b": "xy", "c": [True, False]})
        >>> len(rows)
        4
    """
    names = list(factors)
    for name in names:
        if len(factors[name]) == 0:
            raise ValueError(f"pairwise: factor {name!r} has no levels")
    sizes = tuple(len(factors[name]) for name in names)
    return [
        {name: factors[name][level] for name, level in zip(names, row)}
        for row in _pairwise_indices(sizes)
    ]


@lru_cache(maxsize=32)
def _pairwise_indices(sizes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Rows of level indices; factors are filled largest first, each with the level that
    covers the most pairs not yet covered (ties: the level used least so far)."""
    n = len(sizes)
    uncovered = {
        (i, a, j, b)
        for i, j in combinations(range(n), 2)
        for a in range(sizes[i])
        for b in range(sizes[j])
    }
    order = sorted(range(n), key=lambda k: -sizes[k])
    used = [[0] * size for size in sizes]
    rows: list[tuple[int, ...]] = []
    while uncovered or not rows:
        row: list[int | None] = [None] * n
        if uncovered:
            i, a, j, b = min(uncovered)
            row[i], row[j] = a, b
        for k in order:
            if row[k] is not None:
                continue
            fixed = [(m, level) for m, level in enumerate(row) if level is not None]

            def gain(level: int, k: int = k, fixed: list[tuple[int, int]] = fixed) -> int:
                return sum(
                    ((m, v, k, level) if m < k else (k, level, m, v)) in uncovered for m, v in fixed
                )

            row[k] = max(range(sizes[k]), key=lambda level: (gain(level), -used[k][level]))
        final = tuple(level for level in row if level is not None)
        for i, j in combinations(range(n), 2):
            uncovered.discard((i, final[i], j, final[j]))
        for k, level in enumerate(final):
            used[k][level] += 1
        rows.append(final)
    return rows
