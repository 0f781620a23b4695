"""Planted RNNCell bugs: each class is rnn_impl.RNNCell with one mistake, in its public
``step`` (the cell's checks and batching stay the drop-in's) or its ``forward``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnn_impl import RNNCell


class CellMissingHiddenBias(RNNCell):
    """``b_hh`` is never added. Who: a textbook with one bias vector."""

    def step(self, input, state, weights):
        act = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        return act(F.linear(state, weights.w_hh) + F.linear(input, weights.w_ih, weights.b_ih))


class CellIgnoresNonlinearity(RNNCell):
    """Always tanh. Who: someone who never tried ``nonlinearity='relu'``."""

    def step(self, input, state, weights):
        hidden = F.linear(state, weights.w_hh, weights.b_hh)
        return torch.tanh(hidden + F.linear(input, weights.w_ih, weights.b_ih))


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

    def step(self, input, state, weights):
        act = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        total = input @ weights.w_ih.t()
        if weights.b_ih is not None:
            total = total + weights.b_ih
        total = total + state @ weights.w_hh.t()
        if weights.b_hh is not None:
            total = total + weights.b_hh
        return act(total)
