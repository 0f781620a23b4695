"""An RNN that hands BLAS each step's state as a view into one output buffer, as rnn_impl's
own fast path did before it aligned its steps: bit-exact with nn.RNN only where MKL rounds
independently of alignment. For the tests of rnn-verify's failure classification."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnn_impl.testing.zoo._hooked import HookedRNN


class MisalignedRNN(HookedRNN):
    """ATen's operations in ATen's order, but the state each step's GEMM reads is a slice
    of a ``(T, B, H)`` buffer, at byte offset ``t * B * H * itemsize``."""

    def direction(self, x, h, weights, reverse):
        w_ih, w_hh, b_ih, b_hh, _ = weights
        pre = self.project(x, w_ih, b_ih)
        out = torch.empty_like(pre)
        order = range(pre.size(0) - 1, -1, -1) if reverse else range(pre.size(0))
        for t in order:
            out[t] = self.activation(F.linear(h, w_hh, b_hh) + pre[t])
            h = out[t]
        return out, h


def blas_rounds_by_alignment() -> bool:
    """Whether this machine's BLAS gives another ``addmm`` result for a misaligned operand."""
    generator = torch.Generator().manual_seed(0)
    for batch in range(1, 8):
        for hidden in (5, 7, 13):
            w = torch.randn(hidden, hidden, generator=generator)
            memory = torch.randn(batch * hidden + 4, generator=generator)
            for offset in (1, 2, 3):
                h = memory[offset : offset + batch * hidden].view(batch, hidden)
                if not torch.equal(torch.mm(h, w.t()), torch.mm(h.clone(), w.t())):
                    return True
    return False
