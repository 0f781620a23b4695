"""Planted LSTM, LSTMCell and GRUCell bugs: each is an rnn_impl drop-in with one step changed
(:class:`HookedLSTM`, or a cell's step), the mistakes people make porting an LSTM from a paper
or from another framework."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_impl._steps import Hidden, LayerWeights, Step, lstm_step
from rnn_impl.cell import GRUCell, LSTMCell
from rnn_impl.lstm import LSTM
from rnn_impl.testing.zoo import gru
from rnn_impl.testing.zoo._hooked import StepHook


def _gates(input: Tensor, h: Tensor, weights: LayerWeights, projected: bool):
    """The four gate pre-activations in torch's row order ``(i, f, g, o)``."""
    pre = input if projected else F.linear(input, weights[0], weights[2])
    return (pre + F.linear(h, weights[1], weights[3])).chunk(4, 1)


def _finish(o: Tensor, c: Tensor, weights: LayerWeights, squash=torch.tanh) -> Hidden:
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


def projection_detached(input, state, weights, projected=True):
    """The projection ``W_hr`` applied through ``.detach()``: no gradient reaches it."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    frozen = None if w_hr is None else w_hr.detach()
    return lstm_step(input, state, (w_ih, w_hh, b_ih, b_hh, frozen), projected)


class HookedLSTM(StepHook, LSTM):
    """rnn_impl.LSTM whose every step is :attr:`step` (ATen's LSTM step, unmodified: the
    kill-matrix test verifies it as a control)."""

    step: Step = staticmethod(lstm_step)


class LSTMGateOrderTF(HookedLSTM):
    """The gate blocks in TensorFlow's order ``i, j, f, o`` (candidate second) rather than
    torch's ``i, f, g, o``. Who: someone porting from ``tf.nn.rnn_cell.LSTMCell``. (Keras'
    ``i, f, c, o`` is torch's order: ``c`` is the candidate.)"""

    step = staticmethod(tensorflow_gate_order)


class LSTMForgetBiasAdded(HookedLSTM):
    """1 is added to the forget gate's pre-activation at every step. Who: someone porting
    TensorFlow's ``forget_bias=1.0`` (Keras' ``unit_forget_bias`` only initialises it)."""

    step = staticmethod(forget_bias_added)


class LSTMCellNotSquashed(HookedLSTM):
    """``h = o * c``: no ``tanh`` on the cell state. Who: a transcription of the equations
    that dropped one."""

    step = staticmethod(cell_not_squashed)


class LSTMProjectionDetached(HookedLSTM):
    """With ``proj_size``, ``W_hr`` is applied detached: its gradient is zero. Who: someone
    who froze the projection "because it is only a linear map"."""

    step = staticmethod(projection_detached)


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


def _cell_forward(cell, input: Tensor, hx, step, lstm: bool):
    """A cell's step with ``step``: batched or unbatched input, a missing state as zeros."""
    batched = input.dim() == 2
    x = input if batched else input.unsqueeze(0)
    if hx is None:
        zeros = x.new_zeros(x.size(0), cell.hidden_size)
        hx = (zeros, zeros) if lstm else zeros
    elif not batched:
        hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0)) if lstm else hx.unsqueeze(0)
    out = step(x, hx, cell._weights(), False)
    if batched:
        return out
    return (out[0].squeeze(0), out[1].squeeze(0)) if lstm else out.squeeze(0)


class LSTMCellGateOrderTF(LSTMCell):
    """rnn_impl.LSTMCell reading its gate blocks in TensorFlow's order ``i, j, f, o``."""

    def forward(self, input, hx=None):
        return _cell_forward(self, input, hx, tensorflow_gate_order, lstm=True)


class GRUCellResetBeforeProduct(GRUCell):
    """rnn_impl.GRUCell with the reset gate on ``h`` before the hidden-hidden product (the
    original paper, Keras' ``reset_after=False``)."""

    def forward(self, input, hx=None):
        return _cell_forward(self, input, hx, gru.reset_before_product, lstm=False)
