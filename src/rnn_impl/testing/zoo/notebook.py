"""The seed notebook's ``MyRNN``, ported faithfully, with what rnn-verify needs to check it.

``MyRNN`` is the class as the notebook wrote it (comments translated). Its real bugs:

* the ``first_batch`` handling is inverted: batch-first input comes back time-major and
  time-major input comes back batch-major;
* the hidden state it returns is a Python list of per-layer tensors, not a
  ``(num_layers, B, H)`` tensor, and a given h0 is overwritten in place;
* one bias per layer (nn.RNN has two), no nonlinearity choice, no bidirectional, no dropout,
  no unbatched or packed input, zero h0 created on the default device and dtype.

:func:`notebook_rnn` builds it from nn.RNN's constructor arguments; :class:`NotebookAdapter`
maps nn.RNN's weights onto ``w_in`` / ``w_hh`` / ``bh`` (``bh = b_ih + b_hh``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from torch import Tensor

from rnn_impl.testing.oracle import Adapter


class MyRNN(nn.Module):
    def __init__(self, input_size, hidden_size, layers_size, first_batch=False):
        super(MyRNN, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.layers_size = layers_size
        self.first_batch = first_batch

        self.w_in = []
        self.w_hh = []
        self.bh = []

        for layers in range(self.layers_size):
            self.w_in.append(torch.randn([hidden_size, input_size]) * 0.01)
            self.w_hh.append(torch.randn([hidden_size, hidden_size]) * 0.01)
            self.bh.append(torch.zeros(hidden_size))
            input_size = hidden_size  # every layer but the first reads hidden-size input
        self.w_in = nn.ParameterList([nn.Parameter(w) for w in self.w_in])
        self.w_hh = nn.ParameterList([nn.Parameter(w) for w in self.w_hh])
        self.bh = nn.ParameterList([nn.Parameter(b) for b in self.bh])

    def forward(self, inputs, hidden=None):
        if self.first_batch:
            batch_size, seq_len, _ = inputs.size()
        else:
            seq_len, batch_size, _ = inputs.size()
            inputs = inputs.transpose(0, 1)

        if hidden is None:
            hidden = [torch.zeros(batch_size, self.hidden_size) for _ in range(self.layers_size)]

        outputs = []
        for t in range(seq_len):
            x = inputs[:, t, :]
            for layer in range(self.layers_size):
                h_pre = hidden[layer]
                h_t = torch.tanh(
                    torch.mm(x, self.w_in[layer].t())
                    + torch.mm(h_pre, self.w_hh[layer].t())
                    + self.bh[layer]
                )
                hidden[layer] = h_t
                x = h_t
            outputs.append(h_t.unsqueeze(1))
        outputs = torch.cat(outputs, dim=1)
        if self.first_batch:
            outputs = outputs.transpose(0, 1)
        return outputs, hidden


def _from_rnn_arguments(cls: type[MyRNN], name: str):
    """A factory taking nn.RNN's constructor arguments (those ``MyRNN`` has no notion of are
    dropped)."""

    def factory(
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        device=None,
        dtype=None,
    ) -> MyRNN:
        return cls(input_size, hidden_size, num_layers, first_batch=batch_first).to(device, dtype)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"{cls.__name__} from nn.RNN's constructor arguments.\n\n{cls.__doc__ or ''}"
    return factory


class NotebookAdapter(Adapter):
    """nn.RNN's ``weight_ih_l{k}`` / ``weight_hh_l{k}`` -> ``w_in[k]`` / ``w_hh[k]``;
    ``bias_ih_l{k} + bias_hh_l{k}`` -> ``bh[k]`` (zero without bias)."""

    def load(self, impl: Any, reference: nn.Module) -> None:
        for k in range(len(impl.w_in)):
            impl.w_in[k].copy_(getattr(reference, f"weight_ih_l{k}"))
            impl.w_hh[k].copy_(getattr(reference, f"weight_hh_l{k}"))
            if getattr(reference, "bias", True):
                impl.bh[k].copy_(
                    getattr(reference, f"bias_ih_l{k}") + getattr(reference, f"bias_hh_l{k}")
                )
            else:
                impl.bh[k].zero_()

    def named_parameters(self, impl: Any) -> dict[str, Tensor]:
        named: dict[str, Tensor] = {}
        for k in range(len(impl.w_in)):
            named[f"weight_ih_l{k}"] = impl.w_in[k]
            named[f"weight_hh_l{k}"] = impl.w_hh[k]
            named[f"bias_ih_l{k}"] = impl.bh[k]
            named[f"bias_hh_l{k}"] = impl.bh[k]
        return named


class MyRNNStackedHidden(MyRNN):
    """``MyRNN`` after its user fixed the hidden state only: h_n is stacked into a tensor, so
    the inverted ``first_batch`` handling of the output is what shows next."""

    def forward(self, inputs, hidden=None):
        if hidden is not None:
            hidden = list(hidden.clone())
        outputs, hidden = super().forward(inputs, hidden)
        return outputs, torch.stack(hidden)


notebook_rnn = _from_rnn_arguments(MyRNN, "notebook_rnn")
notebook_rnn_stacked_hidden = _from_rnn_arguments(MyRNNStackedHidden, "notebook_rnn_stacked_hidden")
