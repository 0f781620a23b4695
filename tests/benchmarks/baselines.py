"""The notebook-style loop, kept as a named baseline for the benchmarks (not the default).

Time outer, layers inner, the input projection inside the loop, one bias per layer: how the
seed notebook's ``MyRNN`` computes, written for nn.RNN's parameters (unidirectional, padded,
time-major input). It shows how far rnn_impl's layer-major loop is from where the seed started.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def notebook_loop(rnn: nn.RNN, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``x (T, B, I)`` -> ``(output (T, B, H), h_n (L, B, H))`` with ``rnn``'s weights."""
    layers = rnn.num_layers
    hidden = (
        list(h0.unbind(0)) if h0 is not None else [x.new_zeros(x.size(1), rnn.hidden_size)] * layers
    )
    weights = [
        (getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")) for k in range(layers)
    ]
    biases = [
        getattr(rnn, f"bias_ih_l{k}") + getattr(rnn, f"bias_hh_l{k}") if rnn.bias else None
        for k in range(layers)
    ]
    act = torch.tanh if rnn.nonlinearity == "tanh" else torch.relu
    outputs = []
    for t in range(x.size(0)):
        step = x[t]
        for k in range(layers):
            w_ih, w_hh = weights[k]
            total = step @ w_ih.t() + hidden[k] @ w_hh.t()
            if biases[k] is not None:
                total = total + biases[k]
            hidden[k] = act(total)
            step = hidden[k]
        outputs.append(step)
    return torch.stack(outputs), torch.stack(hidden)
