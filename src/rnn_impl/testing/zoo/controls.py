"""Correct implementations, which no property may reject: the controls of the kill matrix and
of the false-alarm campaign."""

from __future__ import annotations

import rnn_impl


class StepByStepRNN(rnn_impl.RNN):
    """rnn_impl.RNN through its public ``step``, unchanged: overriding it turns the fused fast
    path off, so every layer runs the step-by-step autograd loop."""

    def step(self, input, state, weights):
        return super().step(input, state, weights)
