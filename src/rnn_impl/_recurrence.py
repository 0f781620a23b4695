"""The whole stack: every layer and direction, in ATen's order, each padded direction on the
fast path (:mod:`rnn_impl._bptt`) where it applies, else step by step (:mod:`rnn_impl._steps`).

Bit-exactness with ``torch.nn.RNN`` on CPU comes from doing what ATen's
``_rnn_impl_with_concat`` does: the two directions joined with ``torch.cat(..., -1)``, final
states with ``torch.stack(..., 0)``, ``torch.dropout`` on every layer's time-major output
except the last, in training mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rnn_impl import _bptt
from rnn_impl._steps import Activation, LayerWeights, packed_steps, padded_steps


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
                out, h_last = packed_steps(
                    layer_input, batch_sizes, initial[index], weights[index], activation, reverse
                )
            outputs.append(out)
            finals.append(h_last)
        del layer_input  # every direction has read it: its memory can hold the next one
        layer_input = outputs[0] if num_directions == 1 else torch.cat(outputs, -1)
        if dropout != 0 and training and layer < num_layers - 1:
            layer_input = torch.dropout(layer_input, dropout, True)
    return layer_input, torch.stack(finals, 0)


def _padded_direction(
    x: Tensor, h: Tensor, weights: LayerWeights, activation: Activation, reverse: bool
) -> tuple[Tensor, Tensor]:
    """``x (T, B, I)``, ``h (B, H)`` -> outputs ``(T, B, H)`` in time order, final ``(B, H)``."""
    if _bptt.applies(x, h, weights, activation):
        return _bptt.padded_layer(x, h, weights, activation, reverse)
    return padded_steps(x, h, weights, activation, reverse)
