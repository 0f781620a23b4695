"""The whole stack: every layer and direction, in ATen's order, each padded Elman direction on
the fast path (:mod:`rnn_impl._bptt`) where it applies, else step by step
(:mod:`rnn_impl._steps`).

Bit-exactness with ``torch.nn.RNN`` / ``GRU`` / ``LSTM`` on CPU comes from doing what ATen's
``_rnn_impl`` does: the two directions joined with ``torch.cat(..., -1)``, final states with
``torch.stack(..., 0)`` (``h`` and ``c`` apart for an LSTM), ``torch.dropout`` on every
layer's time-major output except the last, in training mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from rnn_impl import _bptt
from rnn_impl._steps import (
    ACTIVATIONS,
    STEPS,
    Hidden,
    LayerWeights,
    Step,
    packed_steps,
    padded_steps,
)

Layer = Callable[[Tensor, Hidden, LayerWeights, bool, Sequence[int] | None], tuple[Tensor, Hidden]]
"""``(input, state, weights, reverse, batch_sizes) -> (output, final state)``: one layer and
direction over the whole sequence (:meth:`rnn_impl.RNN.layer`)."""

Dropout = Callable[[Tensor, int], Tensor]
"""``(output of layer i, i) -> its dropout``, for every layer but the last."""


def run_stack(
    input: Tensor,
    hx: Hidden,
    weights: Sequence[LayerWeights],
    num_layers: int,
    bidirectional: bool,
    batch_sizes: Sequence[int] | None,
    layer: Layer,
    dropout: Dropout | None = None,
) -> tuple[Tensor, Hidden]:
    """Run every layer and direction, each through ``layer``.

    Args:
        input: time-major ``(T, B, I)``, or packed ``data`` ``(sum(batch_sizes), I)``.
        hx: ``(num_layers * D, B, H_out)``, or an LSTM's pair of those (``c`` with ``H``);
            for packed input, in sorted (packed) batch order.
        weights: one entry per (layer, direction), layer-major, forward direction first.
        batch_sizes: the packed sequence's batch sizes, or None for padded input.
        layer: runs one layer and direction.
        dropout: applied to every layer's output but the last (training mode's dropout).

    Returns:
        ``(output, h_n)``: output ``(T, B, D*H_out)`` or packed ``(sum(batch_sizes), D*H_out)``;
        h_n like ``hx``.
    """
    num_directions = 2 if bidirectional else 1
    initial: list[Hidden] = (
        list(zip(hx[0].unbind(0), hx[1].unbind(0))) if isinstance(hx, tuple) else list(hx.unbind(0))
    )
    finals: list[Hidden] = []
    layer_input = input
    for index_layer in range(num_layers):
        outputs = []
        for direction in range(num_directions):
            index = index_layer * num_directions + direction
            out, last = layer(
                layer_input, initial[index], weights[index], direction == 1, batch_sizes
            )
            outputs.append(out)
            finals.append(last)
        del layer_input  # every direction has read it: its memory can hold the next one
        layer_input = outputs[0] if num_directions == 1 else torch.cat(outputs, -1)
        if dropout is not None and index_layer < num_layers - 1:
            layer_input = dropout(layer_input, index_layer)
    if isinstance(hx, tuple):
        pairs = [f for f in finals if isinstance(f, tuple)]
        return layer_input, (torch.stack([h for h, _ in pairs]), torch.stack([c for _, c in pairs]))
    return layer_input, torch.stack(finals, 0)  # type: ignore[arg-type]


def run_layer(
    x: Tensor,
    state: Hidden,
    weights: LayerWeights,
    mode: str,
    reverse: bool,
    batch_sizes: Sequence[int] | None,
    step: Step | None = None,
) -> tuple[Tensor, Hidden]:
    """One layer and direction: ``x (T, B, I)`` -> outputs ``(T, B, H_out)`` in time order
    (packed data -> packed outputs), and the final state. ``step`` runs every step in place of
    the mode's (a subclass's :meth:`rnn_impl.RNN.step`); without it a padded Elman layer takes
    the fast path where it applies."""
    if batch_sizes is not None:
        return packed_steps(x, batch_sizes, state, weights, step or STEPS[mode], reverse)
    if step is not None:
        return padded_steps(x, state, weights, step, reverse)
    return eager_layer(x, state, weights, mode, reverse)


def eager_layer(
    x: Tensor,
    state: Hidden,
    weights: LayerWeights,
    mode: str,
    reverse: bool,
) -> tuple[Tensor, Hidden]:
    """``x (T, B, I)`` from ``state`` -> ``(out (T, B, H_out), final state)``: the fast path
    (:mod:`rnn_impl._bptt`) where it applies, else step by step."""
    activation = ACTIVATIONS.get(mode)
    if (
        activation is not None
        and isinstance(state, Tensor)
        and _bptt.applies(x, state, weights, activation)
    ):
        return _bptt.padded_layer(x, state, weights, activation, reverse)
    return padded_steps(x, state, weights, STEPS[mode], reverse)
