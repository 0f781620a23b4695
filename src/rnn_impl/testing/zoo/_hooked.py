"""A correct RNN laid out as small overridable steps, so that each zoo bug is one override.

:class:`HookedRNN` is rnn_impl.RNN (its constructor, parameters, checks and forward) with the
recurrence (``RNN._stack``) run through the methods below, in ATen's op order (so, unmodified,
it is bit-exact with nn.RNN: the kill-matrix test verifies it as a control). Bugs override
these hooks, or the drop-in's own (``check_hidden_size``, ``permute_hidden``,
``_zero_state``, ...). Padded input goes through ``direction``; packed input through
:func:`rnn_impl._steps.packed_steps` unless a bug overrides ``packed``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_impl._steps import Step, elman_step, packed_steps
from rnn_impl.rnn import RNN


class StepHook:
    """Mixed into a gated drop-in (``class HookedGRU(StepHook, GRU)``): every step of its
    recurrence is :attr:`step`, a :data:`rnn_impl._steps.Step` that a bug replaces."""

    step: Step

    def _stack(self, x, hx, weights, batch_sizes, step=None):
        return super()._stack(x, hx, weights, batch_sizes, step or self.step)  # type: ignore[misc]


class HookedRNN(RNN):
    """rnn_impl.RNN with its recurrence split into hooks (see the module docstring)."""

    def forward(self, input, hx=None):  # type: ignore[override]
        input, hx = self.arguments(input, hx)
        output, h_n = super().forward(input, hx)
        return self.results(input, output, h_n)

    def arguments(self, input, hx):
        """The forward call's arguments, before anything looks at them."""
        return input, hx

    def results(self, input, output, h_n):
        """The forward call's results, in the caller's layout."""
        return output, h_n

    def activation(self, x: Tensor) -> Tensor:
        return torch.tanh(x) if self.mode == "RNN_TANH" else torch.relu(x)

    def _stack(self, x, hx, weights, batch_sizes):
        return self.stack(x, hx, weights, batch_sizes)

    def stack(self, x, hx, weights, batch_sizes):
        """Every layer and direction over time-major ``x`` (or packed data)."""
        directions = self.num_directions
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
        w_ih, w_hh, b_ih, b_hh, _ = weights
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
        return packed_steps(data, batch_sizes, h0, weights, elman_step(self.activation), reverse)
