"""Bugs the ``ci`` gate misses: they show only where none of its examples reach (its covering
set has other levels, and its random examples rarely land there). What search campaigns and
the regression corpus are for; ``python -m rnn_impl.testing.zoo --campaigns`` measures how
long each way of searching takes to find them, and tests/test_search.py asserts the miss."""

from __future__ import annotations

import torch

from rnn_impl.testing.zoo._hooked import HookedRNN


class RareRNN(HookedRNN):
    """Off by one part in 10^4 for batched input of 4 steps and a batch of 3: a rare random
    example, outside what the ``ci`` profile's examples reach (its covering set has other
    batch sizes), within a short search campaign's.

    Who: a special case for one shape (a cached plan, a hand-unrolled kernel) left wrong."""

    def results(self, input, output, h_n):
        if not isinstance(input, torch.Tensor) or input.dim() != 3:  # packed or unbatched
            return output, h_n
        steps, batch = (input.shape[1], input.shape[0]) if self.batch_first else input.shape[:2]
        if (steps, batch) == (4, 3):
            output = output * (1 + 1e-4)
        return output, h_n
