"""Correct implementations, which no property may reject: the controls of the kill matrix and
of the false-alarm campaign."""

from __future__ import annotations

from typing import Any

import rnn_impl
from rnn_impl import _bptt


class StepByStepRNN(rnn_impl.RNN):
    """rnn_impl.RNN with its fast path off: every layer runs the step-by-step autograd loop."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        enabled, _bptt.ENABLED = _bptt.ENABLED, False
        try:
            return super().forward(*args, **kwargs)
        finally:
            _bptt.ENABLED = enabled
