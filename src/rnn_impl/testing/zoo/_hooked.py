"""A correct RNN laid out as small overridable steps, so that each zoo bug is one override.

:class:`HookedRNN` is rnn_impl.RNN (its constructor, parameters, checks and forward) with its
public extension points (``recurrence``, ``layer``, ``step``) overridden by the hooks below, in
ATen's operation order (so, unmodified, it is bit-exact with nn.RNN: the kill-matrix test
verifies it as a control). Bugs override these hooks, or the drop-in's public methods
(``check_hidden_size``, ``permute_hidden``, ``reset_parameters``, ...). Padded input goes
through ``direction``; packed input through the drop-in's own ``layer``, whose every step is
this class's ``step``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_impl import RNN, LayerWeights


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

    def recurrence(self, input, hx, weights, batch_sizes=None):
        """Every layer and direction over time-major ``input`` (or packed data)."""
        directions = self.num_directions
        initial = hx.unbind(0)
        finals = []
        layer_input = input
        outputs_per_layer = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                out, h_last = self.layer(
                    layer_input, initial[index], weights[index], direction == 1, batch_sizes
                )
                outputs.append(out)
                finals.append(h_last)
            layer_output = self.join(outputs)
            layer_output = self.between_layers(layer_output, layer)
            outputs_per_layer.append(layer_output)
            layer_input = self.next_input(layer + 1, input, outputs_per_layer)
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

    def layer(self, input, state, weights, reverse=False, batch_sizes=None):
        """Padded input through :meth:`direction`; packed input through the drop-in's
        layer, step by step through :meth:`step`."""
        if batch_sizes is None:
            return self.direction(input, state, weights, reverse)
        return super().layer(input, state, weights, reverse, batch_sizes)

    def project(self, x: Tensor, w_ih: Tensor, b_ih: Tensor | None) -> Tensor:
        return F.linear(x, w_ih, b_ih)

    def step(self, input: Tensor, state, weights: LayerWeights):  # type: ignore[override]
        return self.activation(F.linear(state, weights.w_hh, weights.b_hh) + input)

    def direction(self, x, h, weights, reverse):
        steps = self.project(x, weights.w_ih, weights.b_ih).unbind(0)
        if reverse:
            steps = steps[::-1]
        outputs = []
        for pre in steps:
            before, h = h, self.step(pre, h, weights)
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
