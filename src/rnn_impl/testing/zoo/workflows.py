"""Planted bugs that show only compiled or exported (the ``workflows`` tier): each is right in
eager mode, bit for bit, and wrong, or unexportable, in the workflow it names."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnn_impl.testing.zoo._hooked import HookedRNN


class CompiledStepDropsBias(HookedRNN):
    """Under ``torch.compile`` a "compiler-friendly" step that leaves out ``b_hh`` (a branch on
    ``torch.compiler.is_compiling()``); eager mode takes the right one.

    Who: someone who adds a path for the compiler and tests it only in eager mode."""

    def step(self, input, state, weights):
        if torch.compiler.is_compiling():
            return self.activation(F.linear(state, weights.w_hh) + input)
        return super().step(input, state, weights)


class CompiledFirstLength(HookedRNN):
    """Compiled, it keeps the first sequence length it traced (to unroll the loop for the
    compiler) and on a longer sequence repeats the state of that last step for the steps
    beyond it.

    Who: someone who caches a shape in an attribute so that the compiler sees a constant."""

    def direction(self, x, h, weights, reverse):
        if not torch.compiler.is_compiling():
            return super().direction(x, h, weights, reverse)
        if getattr(self, "traced_length", None) is None:
            self.traced_length = x.size(0)
        output, h_n = super().direction(x[: self.traced_length], h, weights, reverse)
        extra = x.size(0) - output.size(0)
        if extra > 0:
            output = torch.cat([output, output[-1:].expand(extra, *output.shape[1:])])
        return output, h_n


class DataDependentSkip(HookedRNN):
    """Skips ``h @ W_hh^T`` while the state is all zeros, decided by a Python ``if`` on the
    tensor's values: the same results in eager mode (and compiled: a graph break), but
    ``torch.export`` cannot trace a branch on data.

    Who: someone saving the first step's product when h0 is zeros."""

    def step(self, input, state, weights):
        if not bool(state.any()):
            bias = weights.b_hh if weights.b_hh is not None else 0
            return self.activation(bias + input)
        return super().step(input, state, weights)
