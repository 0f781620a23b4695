"""A Keras-style LSTM and the adapter that lets rnn-verify check it against torch.nn.LSTM.

    rnn-verify --impl examples.keras_lstm:KerasLSTM --adapter examples.keras_lstm:KerasAdapter \
        --kind lstm --layout batched --fix bidirectional=false --fix proj_size=0
    rnn-verify --impl examples.keras_lstm:TensorFlowOrderLSTM \
        --adapter examples.keras_lstm:KerasAdapter --kind lstm --property output_close \
        --layout batched --fix bidirectional=false --fix proj_size=0

(run from the repository root; ``--kind lstm`` says what it imitates, as it does not subclass
nn.LSTM). It keeps Keras' weights: per layer a ``kernel`` of shape
``(input, 4 * units)``, a ``recurrent_kernel`` ``(units, 4 * units)`` and one ``bias``, the gate
blocks along the last axis in Keras' order ``i, f, c, o``; the adapter transposes torch's
weights into that layout and adds torch's two biases into one. It takes batched input only
and has no ``bidirectional`` or ``proj_size`` (the ``--fix`` arguments hold them).

Keras' ``i, f, c, o`` is torch's ``i, f, g, o``: Keras' ``c`` is the candidate, which torch
calls ``g``. So ``KerasLSTM`` gets its outputs and gradients right (``output_close``,
``gradients``, the laws), and what the report lists is what a port does not copy: bit-exactness
(it sums ``x W + h U + b`` in another order), nn.LSTM's errors, parameter names, ``repr``,
initialisation, dropout. The gate order goes wrong when the port comes from TensorFlow's
``tf.compat.v1.nn.rnn_cell.LSTMCell``, which splits its blocks ``i, j, f, o`` (``j`` the
candidate): ``TensorFlowOrderLSTM`` is that port, and its report says so, under
``departs``: "given its gate blocks reordered to (i, g, f, o) it agrees with nn.LSTM: it reads
them in that order, torch's is (i, f, g, o)".
"""

from __future__ import annotations

import torch
from torch import nn

from rnn_impl.testing import Adapter


class KerasLSTM(nn.Module):
    """Takes nn.LSTM's constructor arguments; supports num_layers, bias and batch_first."""

    gate_order = "ifco"
    """Which gate each of the four blocks holds, in order (``c``: the candidate)."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if bidirectional or proj_size:
            raise ValueError("KerasLSTM has no bidirectional or proj_size")
        self.hidden_size, self.batch_first = hidden_size, batch_first
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.kernels = nn.ParameterList(torch.zeros(n, 4 * hidden_size) for n in sizes)
        self.recurrent_kernels = nn.ParameterList(
            torch.zeros(hidden_size, 4 * hidden_size) for _ in sizes
        )
        self.biases = nn.ParameterList(torch.zeros(4 * hidden_size) for _ in sizes if bias)
        self.to(device=device, dtype=dtype)

    def step(self, layer, x, h, c):
        z = x @ self.kernels[layer] + h @ self.recurrent_kernels[layer]
        if len(self.biases):
            z = z + self.biases[layer]
        gate = dict(zip(self.gate_order, z.chunk(4, -1)))
        i, f, o = (torch.sigmoid(gate[k]) for k in "ifo")
        candidate = torch.tanh(gate["c" if "c" in gate else "j"])
        c = f * c + i * candidate
        return o * torch.tanh(c), c

    def forward(self, x, hx=None):
        if self.batch_first:
            x = x.transpose(0, 1)
        layers, batch = len(self.kernels), x.size(1)
        if hx is None:
            zeros = x.new_zeros(layers, batch, self.hidden_size)
            hx = (zeros, zeros)
        finals_h, finals_c = [], []
        for layer in range(layers):
            h, c = hx[0][layer], hx[1][layer]
            outputs = []
            for x_t in x:
                h, c = self.step(layer, x_t, h, c)
                outputs.append(h)
            x = torch.stack(outputs)
            finals_h.append(h)
            finals_c.append(c)
        output = x.transpose(0, 1) if self.batch_first else x
        return output, (torch.stack(finals_h), torch.stack(finals_c))


class TensorFlowOrderLSTM(KerasLSTM):
    """KerasLSTM with its blocks read in TensorFlow 1's ``LSTMCell`` order: ``i, j, f, o``."""

    gate_order = "ijfo"


class KerasAdapter(Adapter):
    """torch's ``weight_ih_lK`` ``(4H, I)`` is the transposed kernel, ``weight_hh_lK`` the
    transposed recurrent kernel, ``bias_ih_lK + bias_hh_lK`` the one bias; the blocks stay in
    place (Keras' ``i, f, c, o`` is torch's ``i, f, g, o``)."""

    def load(self, impl, reference):
        for layer in range(reference.num_layers):
            impl.kernels[layer].copy_(getattr(reference, f"weight_ih_l{layer}").T)
            impl.recurrent_kernels[layer].copy_(getattr(reference, f"weight_hh_l{layer}").T)
            if reference.bias:
                b_ih = getattr(reference, f"bias_ih_l{layer}")
                impl.biases[layer].copy_(b_ih + getattr(reference, f"bias_hh_l{layer}"))

    def named_parameters(self, impl):
        named = {}
        for layer in range(len(impl.kernels)):
            named[f"weight_ih_l{layer}"] = impl.kernels[layer]
            named[f"weight_hh_l{layer}"] = impl.recurrent_kernels[layer]
            if len(impl.biases):  # one bias: both of torch's get its gradient
                named[f"bias_ih_l{layer}"] = named[f"bias_hh_l{layer}"] = impl.biases[layer]
        return named

    def to_reference(self, name, value):
        return value.T if name.startswith("weight") else value
