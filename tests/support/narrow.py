"""A bug in one corner of the space that the search of the ``ci`` profile does not reach: the
output is off by one part in 10^4 only for ``input_size == 29``, ``hidden_size == 23``, 17
steps and a batch of 5. For the tests of the regression corpus (found once by a deeper search,
recorded, then caught by every ``ci`` run)."""

from __future__ import annotations

import torch

from rnn_impl.testing.cases import InputCase, ModuleConfig
from rnn_impl.testing.zoo._hooked import HookedRNN

CONFIG = ModuleConfig(input_size=29, hidden_size=23)
CASE = InputCase(layout="batched", seq_len=17, batch=5, seed=0)


class NarrowRNN(HookedRNN):
    def results(self, input, output, h_n):
        corner = (self.input_size, self.hidden_size) == (CONFIG.input_size, CONFIG.hidden_size)
        batched = isinstance(input, torch.Tensor) and input.dim() == 3
        if corner and batched and tuple(input.shape[:2]) == (CASE.seq_len, CASE.batch):
            output = output * (1 + 1e-4)
        return output, h_n
