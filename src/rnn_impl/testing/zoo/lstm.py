"""Planted LSTM, LSTMCell and GRUCell bugs: each is an rnn_impl drop-in with its public
``step`` (or ``forward``) overridden by one mistake, the mistakes people make porting an LSTM
from a paper or from another framework."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_impl import LSTM, GRUCell, LayerWeights, LSTMCell
from rnn_impl.testing.zoo import gru


def _gates(input: Tensor, h: Tensor, weights: LayerWeights, projected: bool):
    """The four gate pre-activations in torch's row order ``(i, f, g, o)``."""
    pre = input if projected else F.linear(input, weights[0], weights[2])
    return (pre + F.linear(h, weights[1], weights[3])).chunk(4, 1)


def _finish(o: Tensor, c: Tensor, weights: LayerWeights, squash=torch.tanh):
    h = o * squash(c)
    return (h if weights[4] is None else h @ weights[4].t()), c


def tensorflow_gate_order(input, state, weights, projected=True):
    """The blocks read as TensorFlow's ``LSTMCell`` splits them: ``i, j, f, o``, the
    candidate ``j`` second."""
    h, c = state
    i, g, f, o = _gates(input, h, weights, projected)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return _finish(torch.sigmoid(o), c, weights)


def forget_bias_added(input, state, weights, projected=True):
    """``sigmoid(f + 1)``: TensorFlow's ``forget_bias=1.0``, added at every step."""
    h, c = state
    i, f, g, o = _gates(input, h, weights, projected)
    c = torch.sigmoid(f + 1.0) * c + torch.sigmoid(i) * torch.tanh(g)
    return _finish(torch.sigmoid(o), c, weights)


def cell_not_squashed(input, state, weights, projected=True):
    """``h = o * c``: the ``tanh`` on the cell state forgotten."""
    h, c = state
    i, f, g, o = _gates(input, h, weights, projected)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return _finish(torch.sigmoid(o), c, weights, squash=lambda t: t)


class HookedLSTM(LSTM):
    """rnn_impl.LSTM through its public ``step`` (the drop-in's own step, unmodified: the
    kill-matrix test verifies it as a control); each bug below overrides it."""

    def step(self, input, state, weights):
        return super().step(input, state, weights)


class LSTMGateOrderTF(HookedLSTM):
    """The gate blocks in TensorFlow's order ``i, j, f, o`` (candidate second) rather than
    torch's ``i, f, g, o``. Who: someone porting from ``tf.nn.rnn_cell.LSTMCell``. (Keras'
    ``i, f, c, o`` is torch's order: ``c`` is the candidate.)"""

    def step(self, input, state, weights):
        return tensorflow_gate_order(input, state, weights)


class LSTMForgetBiasAdded(HookedLSTM):
    """1 is added to the forget gate's pre-activation at every step. Who: someone porting
    TensorFlow's ``forget_bias=1.0`` (Keras' ``unit_forget_bias`` only initialises it)."""

    def step(self, input, state, weights):
        return forget_bias_added(input, state, weights)


class LSTMCellNotSquashed(HookedLSTM):
    """``h = o * c``: no ``tanh`` on the cell state. Who: a transcription of the equations
    that dropped one."""

    def step(self, input, state, weights):
        return cell_not_squashed(input, state, weights)


class LSTMProjectionDetached(HookedLSTM):
    """With ``proj_size``, ``W_hr`` is applied detached: its gradient is zero. Who: someone
    who froze the projection "because it is only a linear map"."""

    def step(self, input, state, weights):
        frozen = None if weights.w_hr is None else weights.w_hr.detach()
        return super().step(input, state, weights._replace(w_hr=frozen))


class LSTMCellStateReset(HookedLSTM):
    """A given ``c0`` is ignored: every run starts from a zero cell state. Who: someone who
    carried ``h`` between batches and forgot ``c``."""

    def forward(self, input, hx=None):
        if isinstance(hx, tuple) and len(hx) == 2:
            hx = (hx[0], torch.zeros_like(hx[1]))
        return super().forward(input, hx)


class LSTMStatesSwapped(HookedLSTM):
    """The final state comes back as ``(c_n, h_n)``: the cell state where the hidden state
    belongs. Who: someone following a framework that returns ``(c, h)``."""

    def forward(self, input, hx=None):
        output, (h_n, c_n) = super().forward(input, hx)
        return output, (c_n, h_n)


class LSTMCellGateOrderTF(LSTMCell):
    """rnn_impl.LSTMCell reading its gate blocks in TensorFlow's order ``i, j, f, o``."""

    def step(self, input, state, weights):
        return tensorflow_gate_order(input, state, weights, projected=False)


class GRUCellResetBeforeProduct(GRUCell):
    """rnn_impl.GRUCell with the reset gate on ``h`` before the hidden-hidden product (the
    original paper, Keras' ``reset_after=False``)."""

    def step(self, input, state, weights):
        return gru.reset_before_product(input, state, weights, projected=False)
