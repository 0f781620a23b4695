"""A correct RNN laid out as small overridable steps, so that each zoo bug is one override.

:class:`HookedRNN` keeps rnn_impl.RNN's constructor, parameters and checks, and runs the
recurrence through the methods below, in ATen's op order (so, unmodified, it is bit-exact
with nn.RNN: the kill-matrix test verifies it as a control). Padded input only goes through
``direction``; packed input reuses rnn_impl's packed loop unless a bug overrides ``packed``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_impl import _checks, _layout, _recurrence
from rnn_impl.rnn import RNN


class HookedRNN(RNN):
    """rnn_impl.RNN with its forward pass split into hooks (see the module docstring)."""

    def forward(self, input, hx=None):  # type: ignore[override]
        input, hx = self.arguments(input, hx)
        layout = _layout.from_caller(input, hx, self.batch_first)
        weights = self._layer_weights()
        data = layout.data
        hx = layout.hx
        if hx is None:
            hx = self.zero_state(layout.batch_size, data)
        _checks.check_input(data, weights[0][0].dtype, self.input_size, layout.packed)
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, layout.batch_size, self.hidden_size)
        self.check_hidden(hx, expected)
        x = self.time_major(layout)
        if not layout.packed:
            flat = [w for layer in weights for w in layer if w is not None]
            _checks.check_devices(x, hx, flat)
            _checks.check_seq_len(x.size(0))
        sizes = None if layout.batch_sizes is None else layout.batch_sizes.tolist()
        output, h_n = self.stack(x, hx, weights, sizes)
        return self.results(layout, output, h_n)

    def arguments(self, input, hx):
        return input, hx

    def zero_state(self, batch: int, like: Tensor) -> Tensor:
        directions = 2 if self.bidirectional else 1
        shape = (self.num_layers * directions, batch, self.hidden_size)
        return torch.zeros(shape, dtype=like.dtype, device=like.device)

    def check_hidden(self, hx: Tensor, expected: tuple[int, int, int]) -> None:
        _checks.check_hidden_size(hx, expected)

    def time_major(self, layout: _layout.Layout) -> Tensor:
        return layout.time_major()

    def results(self, layout: _layout.Layout, output: Tensor, h_n: Tensor):
        return layout.to_caller(output, h_n)

    def activation(self, x: Tensor) -> Tensor:
        return torch.tanh(x) if self.mode == "RNN_TANH" else torch.relu(x)

    def stack(self, x, hx, weights, batch_sizes):
        directions = 2 if self.bidirectional else 1
        initial = hx.unbind(0)
        finals = []
        layer_input = x
        outputs_per_layer = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                h0, w, reverse = initial[index], weights[index], direction == 1
                if batch_sizes is None:
                    out, h_last = self.direction(layer_input, h0, w, reverse)
                else:
                    out, h_last = self.packed(layer_input, batch_sizes, h0, w, reverse)
                outputs.append(out)
                finals.append(h_last)
            layer_output = self.join(outputs)
            layer_output = self.between_layers(layer_output, layer)
            outputs_per_layer.append(layer_output)
            layer_input = self.next_input(layer + 1, x, outputs_per_layer)
        return layer_input, torch.stack(finals, 0)

    def join(self, outputs: list[Tensor]) -> Tensor:
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, -1)

    def between_layers(self, layer_output: Tensor, layer: int) -> Tensor:
        if self.dropout != 0 and self.training and layer < self.num_layers - 1:
            return torch.dropout(layer_output, self.dropout, True)
        return layer_output

    def next_input(self, layer: int, x: Tensor, outputs: list[Tensor]) -> Tensor:
        """The input of ``layer``: the previous layer's (dropped-out) output."""
        return outputs[-1]

    def project(self, x: Tensor, w_ih: Tensor, b_ih: Tensor | None) -> Tensor:
        return F.linear(x, w_ih, b_ih)

    def step(self, h: Tensor, pre: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
        return self.activation(F.linear(h, w_hh, b_hh) + pre)

    def direction(self, x, h, weights, reverse):
        w_ih, w_hh, b_ih, b_hh = weights
        steps = self.project(x, w_ih, b_ih).unbind(0)
        if reverse:
            steps = steps[::-1]
        outputs = []
        for pre in steps:
            before, h = h, self.step(h, pre, w_hh, b_hh)
            outputs.append(self.emitted(before, h))
        if reverse:
            outputs = self.restore_order(outputs)
        return torch.stack(outputs, 0), self.last_state(h, outputs, reverse)

    def emitted(self, before: Tensor, after: Tensor) -> Tensor:
        """What a step contributes to the output: the state after it."""
        return after

    def restore_order(self, outputs: list[Tensor]) -> list[Tensor]:
        return outputs[::-1]

    def last_state(self, h: Tensor, outputs: list[Tensor], reverse: bool) -> Tensor:
        return h

    def packed(self, data, batch_sizes, h0, weights, reverse):
        return _recurrence._packed_direction(
            data, batch_sizes, h0, weights, self.activation, reverse
        )
