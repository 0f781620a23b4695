"""What a property's verdict says, most basic first (torch-free): each property is in one tier
(:attr:`~rnn_impl.testing.properties.Property.tier`), and a verification holds some of them
(``rnn-verify --tier``)."""

from __future__ import annotations

TIERS = ("numerics", "behaviour", "drop-in", "workflows")
"""The tier names, most basic first."""

MEANING = {
    "numerics": "computes torch's results: outputs, states, gradients, the laws",
    "behaviour": "behaves as torch's module: layouts, h0 and h_n, dropout, shapes, conversion",
    "drop-in": "can replace torch's module: parameters, repr, initialisation, errors, "
    "serialization, autocast, the meta device, bit identity",
    "workflows": "computes torch's results compiled (torch.compile) and exported (torch.export)",
}
"""What passing each tier says."""

OPT_IN = ("workflows",)
"""Tiers held only when asked for (``--tier workflows``, ``--tier all``, or a property of
theirs named): a compile or an export per example costs seconds."""

USER_TIERS = TIERS[:2]
"""What a user's own class is held to by default: what it computes and how it behaves as a
module; a class that claims to be a drop-in is held to :data:`DROP_IN_TIERS`."""

DROP_IN_TIERS = tuple(t for t in TIERS if t not in OPT_IN)
"""What a class that claims to be a drop-in is held to by default: every tier but the
opt-in ones."""
