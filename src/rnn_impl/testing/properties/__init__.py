"""The property catalogue: every property, checked against ``torch.nn.RNN``.

Each entry of :data:`CATALOGUE` is a :class:`~rnn_impl.testing.properties._core.Property`
whose ``check(implementation, example)`` is a plain function, usable from pytest and from
``rnn-verify``. Categories: differential, gradients, contracts, errors, api, dropout, laws,
workflows (for recurrent modules) and cell (for cells); each property is also in one tier
(numerics, behaviour, drop-in, workflows).
"""

from __future__ import annotations

from rnn_impl.testing.properties import (  # noqa: F401
    api,
    cell,
    contracts,
    differential,
    dropout,
    laws,
    workflows,
)
from rnn_impl.testing.properties._core import REGISTRY, TIERS, Property, PropertyFailure

CATALOGUE: tuple[Property, ...] = tuple(REGISTRY)
BY_NAME: dict[str, Property] = {p.name: p for p in CATALOGUE}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(p.category for p in CATALOGUE))

__all__ = ["BY_NAME", "CATALOGUE", "CATEGORIES", "TIERS", "Property", "PropertyFailure", "select"]


def select(names: list[str] | None = None, cells: bool | None = None) -> tuple[Property, ...]:
    """The properties named: each name a property, a category (``differential``, ...) or a
    tier (:data:`~rnn_impl.testing.properties._core.TIERS`), a category or tier giving its
    properties for cells (``cells=True``), for recurrent modules (False) or for both (None);
    every such property when ``names`` is empty. In catalogue order, each once.

    Raises:
        KeyError: a name that is none of those.
    """
    wanted: set[str] = set()
    for name in names or [None]:  # type: ignore[list-item]
        group = [
            p for p in CATALOGUE if name in (None, p.category, p.tier) and cells in (None, p.cells)
        ]
        if name in BY_NAME:
            group = [BY_NAME[name]]
        elif name is not None and name not in CATEGORIES and name not in TIERS:
            raise KeyError(name)
        wanted.update(p.name for p in group)
    return tuple(p for p in CATALOGUE if p.name in wanted)
