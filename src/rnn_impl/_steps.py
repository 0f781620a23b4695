"""The Elman recurrence step by step, in ATen's operation order: the pieces the stack
(:mod:`rnn_impl._recurrence`), the cell (:mod:`rnn_impl.cell`) and the fast path's double
backward (:mod:`rnn_impl._bptt`) share.

Per layer and direction, as ATen's ``_rnn_impl_with_concat`` does, op for op: the input
projection ``F.linear(x, W_ih, b_ih)`` over the whole time-major sequence (or the whole packed
``data``), split into steps; per step ``h = act(F.linear(h, W_hh, b_hh) + pre_t)``; step
outputs joined with ``torch.stack`` (padded) or ``torch.cat`` (packed). Every operation is an
ordinary differentiable one, so autograd gives gradients, double backward, forward-mode AD
and ``torch.func`` transforms for free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

Activation = Callable[[Tensor], Tensor]
LayerWeights = tuple[Tensor, Tensor, Tensor | None, Tensor | None]
"""``(W_ih, W_hh, b_ih, b_hh)`` of one layer and direction; biases are None when ``bias=False``."""

ACTIVATIONS: dict[str, Activation] = {"RNN_TANH": torch.tanh, "RNN_RELU": torch.relu}


def cell_step(input: Tensor, h: Tensor, weights: LayerWeights, activation: Activation) -> Tensor:
    """One RNNCell step, ATen's order: ``act(linear(h, W_hh, b_hh) + linear(x, W_ih, b_ih))``."""
    w_ih, w_hh, b_ih, b_hh = weights
    return activation(F.linear(h, w_hh, b_hh) + F.linear(input, w_ih, b_ih))


def padded_steps(
    x: Tensor, h: Tensor, weights: LayerWeights, activation: Activation, reverse: bool
) -> tuple[Tensor, Tensor]:
    """``x (T, B, I)``, ``h (B, H)`` -> outputs ``(T, B, H)`` in time order, final ``(B, H)``,
    step by step in ordinary differentiable operations."""
    w_ih, w_hh, b_ih, b_hh = weights
    steps = F.linear(x, w_ih, b_ih).unbind(0)
    if reverse:
        steps = steps[::-1]
    outputs = []
    for pre in steps:
        h = activation(F.linear(h, w_hh, b_hh) + pre)
        outputs.append(h)
    if reverse:
        outputs.reverse()
    return torch.stack(outputs, 0), h


def packed_steps(
    data: Tensor,
    batch_sizes: Sequence[int],
    h0: Tensor,
    weights: LayerWeights,
    activation: Activation,
    reverse: bool,
) -> tuple[Tensor, Tensor]:
    """Packed ``data`` -> packed outputs and final states ``(B, H)`` in sorted batch order.

    Forward: sequences end in descending-length order, so the rows of finished sequences are
    set aside as the batch shrinks. Reverse: it starts from the shortest batch and takes fresh
    rows of ``h0`` as the batch grows.
    """
    w_ih, w_hh, b_ih, b_hh = weights
    steps = F.linear(data, w_ih, b_ih).split(list(batch_sizes))
    outputs = []
    if not reverse:
        finished: list[Tensor] = []
        last = batch_sizes[0]
        h = h0.narrow(0, 0, last)
        for pre, size in zip(steps, batch_sizes):
            if size < last:
                finished.append(h.narrow(0, size, last - size))
                h = h.narrow(0, 0, size)
            h = activation(F.linear(h, w_hh, b_hh) + pre)
            outputs.append(h)
            last = size
        finished.append(h)
        finished.reverse()
        return torch.cat(outputs, 0), torch.cat(finished, 0)
    last = batch_sizes[-1]
    h = h0.narrow(0, 0, last)
    for pre, size in zip(reversed(steps), reversed(batch_sizes)):
        if size > last:
            h = torch.cat((h, h0.narrow(0, last, size - last)), 0)
        h = activation(F.linear(h, w_hh, b_hh) + pre)
        outputs.append(h)
        last = size
    outputs.reverse()
    return torch.cat(outputs, 0), h
