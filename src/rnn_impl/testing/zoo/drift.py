"""How small a drift each tolerance property catches: an RNN (or RNNCell) whose every step's
new state is scaled by ``1 + k u`` (``u`` the unit roundoff of its dtype), ``k`` ulp a step,
and the smallest ``k`` each property kills in every one of ``N`` seeded runs
(``python -m rnn_impl.testing.zoo --drift``; the table in docs/power.md).

A correct implementation's rounding moves a step by about ``u`` in a random direction; a
drift of ``k`` ulp moves every step the same way, a small systematic error of the kind a
wrong constant or a lossy cast makes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import settings

import rnn_impl
from rnn_impl.testing.properties import BY_NAME
from rnn_impl.testing.zoo import Bug
from rnn_impl.testing.zoo.matrix import without_shrinking

PROPERTIES = ("output_close", "gradients", "cell_output_close", "cell_gradients")
"""The tolerance properties the drift is measured for (each at its home dtype; the laws
compare the implementation with itself, where a drift cancels)."""

STEPS = tuple(4**k for k in range(12))
"""The drifts tried, in ulp a step: 1, 4, 16, ... 4^11."""


def _scaled(state: object, k: float) -> object:
    if isinstance(state, tuple):
        return tuple(_scaled(t, k) for t in state)
    assert isinstance(state, torch.Tensor)
    return state * (1 + k * torch.finfo(state.dtype).eps / 2)


def drifting(k: float, cell: bool) -> Bug:
    """The drop-in RNN (or RNNCell) with every step's state scaled by ``1 + k u``."""

    base = rnn_impl.RNNCell if cell else rnn_impl.RNN

    class Drifting(base):  # type: ignore[misc, valid-type]
        __doc__ = f"Every step's new state scaled by 1 + {k:g} u."

        def step(self, input, state, weights):  # type: ignore[no-untyped-def]
            return _scaled(super().step(input, state, weights), k)

    Drifting.__qualname__ = Drifting.__name__ = f"Drifting{'Cell' if cell else ''}{k:g}"
    return Bug(Drifting, "", name=Drifting.__name__)


@dataclass(frozen=True)
class Drift:
    """For one property: the smallest drift tried that it killed in every run, and the
    largest below it with the kills it got."""

    prop: str
    killed: float
    kills_below: tuple[float, int]
    runs: int
    seconds: float

    def row(self) -> str:
        below, kills = self.kills_below
        under = f"{below:g} ulp: {kills} / {self.runs}" if below else "-"
        return f"| {self.prop} | {self.killed:g} | {under} | {self.seconds:.0f} |"


def measure(prop_name: str, profile: str, runs: int) -> Drift:
    """The drift ``prop_name`` kills in ``runs`` of ``runs`` seeded runs of ``profile``."""
    from rnn_impl.testing.zoo.matrix import timed_run

    prop = BY_NAME[prop_name]
    seeded = settings(without_shrinking(settings.get_profile(profile)), derandomize=False)
    below, spent = (0.0, 0), []
    for k in STEPS:
        bug = drifting(k, prop.cells)
        bug = Bug(bug.factory, prop_name, name=bug.name)
        kills = 0
        for seed in range(runs):
            verification, took = timed_run(bug, seeded, seed)
            spent.append(took)
            kills += verification.failure is not None
            if kills + (runs - seed - 1) < runs:  # one miss: not every run
                break
        if kills == runs:
            return Drift(prop_name, k, below, runs, sum(spent))
        below = (k, kills)
    return Drift(prop_name, math.inf, below, runs, sum(spent))


def to_markdown(rows: list[Drift], profile: str, runs: int) -> str:
    lines = [
        "",
        "## Smallest drift each tolerance property catches",
        "",
        "A step that scales its new state by `1 + k u` (`k` ulp of the tested dtype a step,",
        "always the same way), at each property's home dtype: the smallest `k` of 1, 4, 16,",
        f"... that the property kills in {runs} of {runs} seeded `{profile}` runs, and the",
        "one below it with its kills (a run that missed ends the count there).",
        "",
        "| property | smallest drift killed in every run (ulp a step) | below it | seconds |",
        "|---|---|---|---|",
        *(r.row() for r in rows),
    ]
    return "\n".join(lines) + "\n"


__all__ = ["PROPERTIES", "drifting", "measure", "to_markdown"]
