"""Planted GRU bugs: each is rnn_impl.GRU with its public ``step`` overridden by one wrong
step, the mistakes people make porting a GRU from a paper or from another framework."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_impl import GRU


def _parts(input: Tensor, h: Tensor, weights, projected: bool):
    """The input's and the hidden state's three gate pre-activations, ``(r, z, n)`` each."""
    pre = input if projected else F.linear(input, weights[0], weights[2])
    return pre.chunk(3, 1), F.linear(h, weights[1], weights[3]).chunk(3, 1)


def reset_before_product(input, h, weights, projected=True):
    """``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``."""
    (ir, iz, in_), (hr, hz, _) = _parts(input, h, weights, projected)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    size = h.size(1)
    w_hn = weights[1][2 * size :]
    b_hn = None if weights[3] is None else weights[3][2 * size :]
    n = torch.tanh(in_ + F.linear(r * h, w_hn, b_hn))
    return (1 - z) * n + z * h


def update_swapped(input, h, weights, projected=True):
    """``h' = z * n + (1 - z) * h``."""
    (ir, iz, in_), (hr, hz, hn) = _parts(input, h, weights, projected)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(in_ + r * hn)
    return z * n + (1 - z) * h


def gate_order_zr(input, h, weights, projected=True):
    """The first two blocks read as ``z, r``."""
    (iz, ir, in_), (hz, hr, hn) = _parts(input, h, weights, projected)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(in_ + r * hn)
    return (1 - z) * n + z * h


def reset_bias_outside(input, h, weights, projected=True):
    """``n = tanh(W_in x + b_in + r * (W_hn h) + b_hn)``."""
    (ir, iz, in_), (hr, hz, _) = _parts(input, h, weights, projected)
    size = h.size(1)
    hn = F.linear(h, weights[1][2 * size :])
    b_hn = 0 if weights[3] is None else weights[3][2 * size :]
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(in_ + r * hn + b_hn)
    return (1 - z) * n + z * h


class HookedGRU(GRU):
    """rnn_impl.GRU through its public ``step`` (the drop-in's own step, unmodified: the
    kill-matrix test verifies it as a control); each bug below overrides it."""

    def step(self, input, state, weights):
        return super().step(input, state, weights)


class GRUResetBeforeProduct(HookedGRU):
    """The reset gate multiplies ``h`` before the hidden-hidden product:
    ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``. Who: the original paper, Keras'
    ``reset_after=False``."""

    def step(self, input, state, weights):
        return reset_before_product(input, state, weights)


class GRUUpdateSwapped(HookedGRU):
    """The update gate weighs the candidate: ``h' = z * n + (1 - z) * h``. Who: someone
    following a paper that defines ``z`` the other way round."""

    def step(self, input, state, weights):
        return update_swapped(input, state, weights)


class GRUGateOrderZR(HookedGRU):
    """The first two gate blocks read as ``z, r`` rather than torch's ``r, z``. Who: someone
    porting weights from Keras, which stores ``z, r, h``."""

    def step(self, input, state, weights):
        return gate_order_zr(input, state, weights)


class GRUResetBiasOutside(HookedGRU):
    """``b_hn`` is added outside the reset gate: ``n = tanh(W_in x + b_in + r * (W_hn h) +
    b_hn)``. Who: someone merging the two biases into one, as a single-bias GRU does; only
    shows with ``bias=True``."""

    def step(self, input, state, weights):
        return reset_bias_outside(input, state, weights)
