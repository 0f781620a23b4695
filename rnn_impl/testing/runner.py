"""Running one property through Hypothesis: shared by pytest and ``rnn-verify``."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from hypothesis import given, settings, target

from rnn_impl.testing import devices
from rnn_impl.testing.oracle import Subject
from rnn_impl.testing.properties import Property
from rnn_impl.testing.strategies import Example


@dataclass
class Tally:
    """What a run saw: examples run and the largest normalised error (1.0 = the bound)."""

    examples: int = 0
    worst: float = 0.0
    worst_example: Example | None = field(default=None, repr=False)


def verify(
    prop: Property,
    subject: Subject,
    device: str,
    dtype: torch.dtype,
    run_settings: settings | None = None,
) -> Tally:
    """Check ``prop`` on examples drawn by Hypothesis; raises the minimal failure found."""
    tally = Tally()
    if device == "cuda":
        devices.deterministic_cuda()

    def check(example: Example) -> None:
        tally.examples += 1
        error = prop.check(subject, example)
        if error is not None:
            target(float(error), label=f"{prop.name} normalised error")
            if error >= tally.worst:
                tally.worst, tally.worst_example = float(error), example

    test = given(prop.strategy(device, dtype))(check)
    if run_settings is not None:
        test = run_settings(test)
    test()
    return tally
