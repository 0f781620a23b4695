"""Planted RNNCell bugs: each class is rnn_impl.RNNCell with one mistake."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnn_impl import _checks
from rnn_impl.cell import RNNCell


class CellMissingHiddenBias(RNNCell):
    """``b_hh`` is never added. Who: a textbook with one bias vector."""

    def forward(self, input, hx=None):
        act = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        return _step(
            self,
            input,
            hx,
            lambda x, h: act(
                F.linear(h, self.weight_hh) + F.linear(x, self.weight_ih, self.bias_ih)
            ),
        )


class CellIgnoresNonlinearity(RNNCell):
    """Always tanh. Who: someone who never tried ``nonlinearity='relu'``."""

    def forward(self, input, hx=None):
        return _step(
            self,
            input,
            hx,
            lambda x, h: torch.tanh(
                F.linear(h, self.weight_hh, self.bias_hh)
                + F.linear(x, self.weight_ih, self.bias_ih)
            ),
        )


class CellDetachedHidden(RNNCell):
    """The incoming hidden state is detached: no gradient reaches hx.
    Who: someone stopping gradients "to save memory"."""

    def forward(self, input, hx=None):
        return super().forward(input, None if hx is None else hx.detach())


class CellUnbatchedNotSqueezed(RNNCell):
    """Unbatched input returns ``(1, H)`` instead of ``(H,)``. Who: a batched-only mindset."""

    def forward(self, input, hx=None):
        out = super().forward(input, hx)
        return out.unsqueeze(0) if input.dim() == 1 else out


class CellFriendlyErrors(RNNCell):
    """Shape mistakes raise a home-made ValueError. Who: someone improving messages."""

    def forward(self, input, hx=None):
        if input.size(-1) != self.input_size:
            raise ValueError(f"expected {self.input_size} features")
        return super().forward(input, hx)


class CellNaiveOrder(RNNCell):
    """``act(x W_ih^T + b_ih + h W_hh^T + b_hh)`` as written in the docs: the right maths, but
    another rounding than nn.RNNCell's (only the bit-exact property sees it), and ``@`` words a
    dtype mismatch differently from nn.RNNCell's ``linear`` (error parity sees that).
    Who: everyone who transcribes the formula."""

    def forward(self, input, hx=None):
        act = torch.tanh if self.nonlinearity == "tanh" else torch.relu

        def naive(x, h):
            total = x @ self.weight_ih.t()
            if self.bias_ih is not None:
                total = total + self.bias_ih
            total = total + h @ self.weight_hh.t()
            if self.bias_hh is not None:
                total = total + self.bias_hh
            return act(total)

        return _step(self, input, hx, naive)


def _step(cell: RNNCell, input, hx, update):
    """rnn_impl.RNNCell's batching and checks around one ``update(x, h)``, so that each bug
    differs from a correct cell only in its update."""
    _checks.check_cell_input_rank(input, hx)
    batched = input.dim() == 2
    x = input if batched else input.unsqueeze(0)
    if hx is None:
        h = torch.zeros(x.size(0), cell.hidden_size, dtype=x.dtype, device=x.device)
    else:
        h = hx if batched else hx.unsqueeze(0)
    _checks.check_cell_forward(x, h, cell.weight_ih.size(1), cell.weight_hh.size(1))
    out = update(x, h)
    return out if batched else out.squeeze(0)
