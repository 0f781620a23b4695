"""The Elman recurrence, layer by layer and direction by direction, in ATen's operation order.

Bit-exactness with ``torch.nn.RNN`` on CPU comes from doing exactly what ATen's
``_rnn_impl_with_concat`` does, op for op:

* per layer and direction, the input projection ``F.linear(x, W_ih, b_ih)`` over the whole
  time-major sequence (or the whole packed ``data``), then split into steps;
* per step ``h = act(F.linear(h, W_hh, b_hh) + pre_t)``;
* step outputs joined with ``torch.stack`` (padded) or ``torch.cat`` (packed), the two
  directions with ``torch.cat(..., -1)``, final states with ``torch.stack(..., 0)``;
* ``torch.dropout`` on every layer's time-major output except the last, in training mode.

Everything is an ordinary differentiable op, so autograd gives gradients, double backward,
forward-mode AD and ``torch.func`` transforms for free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_impl import _bptt

Activation = Callable[[Tensor], Tensor]
LayerWeights = tuple[Tensor, Tensor, Tensor | None, Tensor | None]
"""``(W_ih, W_hh, b_ih, b_hh)`` of one layer and direction; biases are None when ``bias=False``."""

ACTIVATIONS: dict[str, Activation] = {"RNN_TANH": torch.tanh, "RNN_RELU": torch.relu}


def run_stack(
    input: Tensor,
    hx: Tensor,
    weights: Sequence[LayerWeights],
    activation: Activation,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    training: bool,
    batch_sizes: Sequence[int] | None = None,
) -> tuple[Tensor, Tensor]:
    """Run every layer and direction.

    Args:
        input: time-major ``(T, B, I)``, or packed ``data`` ``(sum(batch_sizes), I)``.
        hx: ``(num_layers * D, B, H)``; for packed input, in sorted (packed) batch order.
        weights: one entry per (layer, direction), layer-major, forward direction first.
        batch_sizes: the packed sequence's batch sizes, or None for padded input.

    Returns:
        ``(output, h_n)``: output ``(T, B, D*H)`` or packed ``(sum(batch_sizes), D*H)``;
        h_n ``(num_layers * D, B, H)``.
    """
    num_directions = 2 if bidirectional else 1
    initial = hx.unbind(0)
    finals: list[Tensor] = []
    layer_input = input
    for layer in range(num_layers):
        outputs = []
        for direction in range(num_directions):
            index = layer * num_directions + direction
            reverse = direction == 1
            if batch_sizes is None:
                out, h_last = _padded_direction(
                    layer_input, initial[index], weights[index], activation, reverse
                )
            else:
                out, h_last = _packed_direction(
                    layer_input, batch_sizes, initial[index], weights[index], activation, reverse
                )
            outputs.append(out)
            finals.append(h_last)
        del layer_input  # every direction has read it: its memory can hold the next one
        layer_input = outputs[0] if num_directions == 1 else torch.cat(outputs, -1)
        if dropout != 0 and training and layer < num_layers - 1:
            layer_input = torch.dropout(layer_input, dropout, True)
    return layer_input, torch.stack(finals, 0)


def cell_step(input: Tensor, h: Tensor, weights: LayerWeights, activation: Activation) -> Tensor:
    """One RNNCell step, ATen's order: ``act(linear(h, W_hh, b_hh) + linear(x, W_ih, b_ih))``."""
    w_ih, w_hh, b_ih, b_hh = weights
    return activation(F.linear(h, w_hh, b_hh) + F.linear(input, w_ih, b_ih))


def _padded_direction(
    x: Tensor, h: Tensor, weights: LayerWeights, activation: Activation, reverse: bool
) -> tuple[Tensor, Tensor]:
    """``x (T, B, I)``, ``h (B, H)`` -> outputs ``(T, B, H)`` in time order, final ``(B, H)``."""
    if _bptt.applies(x, h, weights, activation):
        return _bptt.layer(x, h, weights, activation, reverse)
    return padded_steps(x, h, weights, activation, reverse)


def padded_steps(
    x: Tensor, h: Tensor, weights: LayerWeights, activation: Activation, reverse: bool
) -> tuple[Tensor, Tensor]:
    """:func:`_padded_direction` step by step in ordinary differentiable operations."""
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


def _packed_direction(
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
