"""What a property's verdict says, most basic first (torch-free): each property is in one tier
(:attr:`~rnn_impl.testing.properties.Property.tier`), and a verification holds some of them
(``rnn-verify --tier``)."""

from __future__ import annotations

TIERS = ("numerics", "behaviour", "drop-in")
"""The tier names, most basic first."""

MEANING = {
    "numerics": "computes torch's results: outputs, states, gradients, the laws",
    "behaviour": "behaves as torch's module: layouts, h0 and h_n, dropout, shapes, conversion",
    "drop-in": "can replace torch's module: parameters, repr, initialisation, errors, "
    "serialization, autocast, the meta device, bit identity",
}
"""What passing each tier says."""

USER_TIERS = TIERS[:2]
"""What a user's own class is held to by default: what it computes and how it behaves as a
module; a class that claims to be a drop-in is held to all three."""
