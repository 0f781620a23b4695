"""The recurrence step by step, in ATen's operation order: the pieces the stack
(:mod:`rnn_impl._recurrence`), the cells (:mod:`rnn_impl.cell`) and the Elman fast path's
double backward (:mod:`rnn_impl._bptt`) share.

Per layer and direction, as ATen's ``FullLayer`` / ``PackedLayer`` do on the CPU, op for op:
the input projection ``F.linear(x, W_ih, b_ih)`` over the whole time-major sequence (or the
whole packed ``data``), split into steps; per step, the mode's :data:`Step` from the projected
input and the state; step outputs joined with ``torch.stack`` (padded) or ``torch.cat``
(packed). The gated steps are ATen's ``LSTMCell`` / ``GRUCell`` line for line, in-place
operations on ``unsafe_chunk`` views included: an elementwise kernel rounds by the shape it
walks (a tail shorter than a vector goes through the scalar ``exp``), so the same values on
differently laid-out tensors are not enough. Every operation is an ordinary differentiable
one, so autograd gives gradients, double backward, forward-mode AD and ``torch.func``
transforms, with autograd's graph, which is ATen's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

Activation = Callable[[Tensor], Tensor]


class LayerWeights(NamedTuple):
    """The weights of one layer and direction (or of a cell), in torch's layout: ``w_ih``
    ``(G * H, H_in)``, ``w_hh`` ``(G * H, H_out)``, ``b_ih`` and ``b_hh`` ``(G * H)`` (None
    when ``bias=False``), ``w_hr`` ``(H_out, H)`` (None unless an LSTM has ``proj_size > 0``);
    ``G`` is the number of gate blocks (1, GRU's 3, LSTM's 4)."""

    w_ih: Tensor
    w_hh: Tensor
    b_ih: Tensor | None
    b_hh: Tensor | None
    w_hr: Tensor | None = None


Hidden = Tensor | tuple[Tensor, Tensor]
"""A layer's state: ``h (B, H_out)``, or ``(h, c)`` for an LSTM."""

Step = Callable[[Tensor, Hidden, LayerWeights, bool], Hidden]
"""``(input, state, weights, projected) -> state'``: one step, from the projected input
``pre = linear(x_t, W_ih, b_ih)`` when ``projected`` (a layer's loop), else from ``x_t`` (a
cell), projected where ATen's cell projects it: the cells' errors for operands of mixed
dtypes depend on which product comes first."""

ACTIVATIONS: dict[str, Activation] = {"RNN_TANH": torch.tanh, "RNN_RELU": torch.relu}


def elman_step(activation: Activation) -> Step:
    """ATen's ``SimpleCell``: ``act(linear(h, W_hh, b_hh) + pre)``."""

    def step(input: Tensor, h: Hidden, weights: LayerWeights, projected: bool = True) -> Hidden:
        assert isinstance(h, Tensor)
        hh = F.linear(h, weights[1], weights[3])
        return activation(hh + (input if projected else _project(input, weights)))

    return step


def _joinable(products: Tensor, input: Tensor) -> Tensor:
    """The state's ``products``, able to take the input's values in place (as ATen's cells
    add them): as they are, but under ``torch.func.vmap`` over inputs, where the first state
    is not batched and the input is, a batched copy."""
    batched = torch._C._functorch.is_batchedtensor
    if batched(input) and not batched(products):
        return products + torch.zeros_like(input[..., :1])
    return products


def _project(x: Tensor, weights: LayerWeights) -> Tensor:
    return F.linear(x, weights[0], weights[2])


def lstm_step(
    input: Tensor, state: Hidden, weights: LayerWeights, projected: bool = True
) -> Hidden:
    """ATen's ``LSTMCell``: gates ``i, f, g, o`` in that order along the ``4 * H`` rows,
    ``c' = f * c + i * g``, ``h' = o * tanh(c')``, then ``h' W_hr^T`` when projecting."""
    h, c = state
    w_hr = weights[4]
    gates = _joinable(F.linear(h, weights[1], weights[3]), input)
    gates = gates.add_(input if projected else _project(input, weights))
    ingate, forgetgate, cellgate, outgate = gates.unsafe_chunk(4, 1)
    ingate = ingate.sigmoid_()
    forgetgate = forgetgate.sigmoid_()
    cellgate = cellgate.tanh_()
    outgate = outgate.sigmoid_()
    c = (forgetgate * c).add_(ingate * cellgate)
    h = outgate * c.tanh()
    return (h if w_hr is None else torch.matmul(h, w_hr.t())), c


def gru_step(input: Tensor, h: Hidden, weights: LayerWeights, projected: bool = True) -> Hidden:
    """ATen's ``GRUCell``: gates ``r, z, n`` along the ``3 * H`` rows, the reset gate applied
    to the hidden-hidden product: ``n = tanh(pre_n + r * (h W_hn^T + b_hn))``,
    ``h' = (h - n) * z + n``."""
    assert isinstance(h, Tensor)
    igates = (input if projected else _project(input, weights)).unsafe_chunk(3, 1)
    hgates = _joinable(F.linear(h, weights[1], weights[3]), input).unsafe_chunk(3, 1)
    reset_gate = hgates[0].add_(igates[0]).sigmoid_()
    input_gate = hgates[1].add_(igates[1]).sigmoid_()
    new_gate = igates[2].add(hgates[2].mul_(reset_gate)).tanh_()
    return (h - new_gate).mul_(input_gate).add_(new_gate)


STEPS: dict[str, Step] = {
    "RNN_TANH": elman_step(torch.tanh),
    "RNN_RELU": elman_step(torch.relu),
    "LSTM": lstm_step,
    "GRU": gru_step,
}
"""Each mode's step (``nn.RNNBase.mode``'s names)."""


def output_of(state: Hidden) -> Tensor:
    """What a step emits: ``h`` (an LSTM's ``(h, c)`` emits ``h``)."""
    return state[0] if isinstance(state, tuple) else state


def narrow(state: Hidden, start: int, length: int) -> Hidden:
    """Rows ``start:start+length`` of the state (of ``h`` and ``c`` alike)."""
    if isinstance(state, tuple):
        return state[0].narrow(0, start, length), state[1].narrow(0, start, length)
    return state.narrow(0, start, length)


def cat(states: Sequence[Hidden]) -> Hidden:
    """States joined along the batch (of ``h`` and ``c`` alike)."""
    if isinstance(states[0], tuple):
        pairs = [s for s in states if isinstance(s, tuple)]
        return torch.cat([s[0] for s in pairs], 0), torch.cat([s[1] for s in pairs], 0)
    return torch.cat(list(states), 0)  # type: ignore[arg-type]


def padded_steps(
    x: Tensor, state: Hidden, weights: LayerWeights, step: Step, reverse: bool
) -> tuple[Tensor, Hidden]:
    """``x (T, B, I)``, state ``(B, H)`` -> outputs ``(T, B, H_out)`` in time order, final
    state, step by step in ordinary differentiable operations."""
    steps = _project(x, weights).unbind(0)
    if reverse:
        steps = steps[::-1]
    outputs = []
    for pre in steps:
        state = step(pre, state, weights, True)
        outputs.append(output_of(state))
    if reverse:
        outputs.reverse()
    return torch.stack(outputs, 0), state


def packed_steps(
    data: Tensor,
    batch_sizes: Sequence[int],
    initial: Hidden,
    weights: LayerWeights,
    step: Step,
    reverse: bool,
) -> tuple[Tensor, Hidden]:
    """Packed ``data`` -> packed outputs and final states ``(B, H)`` in sorted batch order.

    Forward: from the whole initial state (``batch_sizes[0]`` rows: nn.LSTM leaves the check to
    the first step, as here); sequences end in descending-length order, so the rows of
    finished sequences are set aside as the batch shrinks. Reverse: it starts from the shortest batch and takes fresh
    rows of the initial state as the batch grows. Steps are ``narrow``-ed off the projection
    as ATen's ``PackedLayer`` does (so malformed data fails as there).
    """
    projected = _project(data, weights)
    outputs = []
    if not reverse:
        finished: list[Hidden] = []
        offset, last = 0, batch_sizes[0]
        state = initial
        for size in batch_sizes:
            pre = projected.narrow(0, offset, size)
            offset += size
            if size < last:
                finished.append(narrow(state, size, last - size))
                state = narrow(state, 0, size)
            state = step(pre, state, weights, True)
            outputs.append(output_of(state))
            last = size
        finished.append(state)
        finished.reverse()
        return torch.cat(outputs, 0), cat(finished)
    offset, last = projected.size(0), batch_sizes[-1]
    state = narrow(initial, 0, last)
    for size in reversed(batch_sizes):
        if size > last:
            state = cat((state, narrow(initial, last, size - last)))
        pre = projected.narrow(0, offset - size, size)
        offset -= size
        state = step(pre, state, weights, True)
        outputs.append(output_of(state))
        last = size
    outputs.reverse()
    return torch.cat(outputs, 0), state
