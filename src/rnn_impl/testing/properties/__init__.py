"""The property catalogue: every property, checked against ``torch.nn.RNN``.

Each entry of :data:`CATALOGUE` is a :class:`~rnn_impl.testing.properties._core.Property`
whose ``check(subject, example)`` is a plain function, usable from pytest and from
``rnn-verify``. Groups: differential, gradients, contracts, errors, api, dropout, laws (for RNNs) and cell
(for RNNCells).
"""

from __future__ import annotations

from rnn_impl.testing.properties import api, cell, contracts, differential, dropout, laws  # noqa: F401
from rnn_impl.testing.properties._core import REGISTRY, Property, PropertyFailure

CATALOGUE: tuple[Property, ...] = tuple(REGISTRY)
BY_NAME: dict[str, Property] = {p.name: p for p in CATALOGUE}

__all__ = ["BY_NAME", "CATALOGUE", "Property", "PropertyFailure", "select"]


def select(names: list[str] | None = None, kind: str | None = None) -> tuple[Property, ...]:
    """The properties named (all of ``kind``, or all, when ``names`` is empty); unknown names
    raise KeyError."""
    if not names:
        return tuple(p for p in CATALOGUE if kind in (None, p.kind))
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise KeyError(", ".join(unknown))
    return tuple(BY_NAME[n] for n in names)
