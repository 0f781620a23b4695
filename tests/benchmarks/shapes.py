"""Benchmark shapes and the builders shared by the benchmark tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnn_impl
from rnn_impl.baselines import notebook_loop

SHAPES = {
    "tiny": dict(batch=1, seq_len=100, input_size=32, hidden_size=32, num_layers=1),
    "mid": dict(batch=32, seq_len=100, input_size=64, hidden_size=128, num_layers=2),
    "bidirectional": dict(
        batch=16, seq_len=200, input_size=128, hidden_size=256, num_layers=2, bidirectional=True
    ),
    "large": dict(batch=64, seq_len=50, input_size=256, hidden_size=512, num_layers=1),
    "huge": dict(batch=128, seq_len=20, input_size=1024, hidden_size=1024, num_layers=1),
}
"""(batch, seq_len, input, hidden, layers[, bidirectional]), as in the performance issue."""


def build(variant: str, shape: str, dtype=torch.float32):
    """A callable ``(x, h0) -> (output, h_n)`` and its inputs, with identical weights."""
    spec = dict(SHAPES[shape])
    batch, seq_len = spec.pop("batch"), spec.pop("seq_len")
    torch.manual_seed(0)
    reference = nn.RNN(**spec, dtype=dtype)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(seq_len, batch, spec["input_size"], generator=g, dtype=dtype)
    if variant == "nn.RNN":
        return reference, x
    if variant == "rnn_impl":
        impl = rnn_impl.RNN(**spec, dtype=dtype)
        impl.load_state_dict(reference.state_dict())
        return impl, x
    if variant == "notebook":
        if spec.get("bidirectional"):
            pytest.skip("the notebook-style loop is unidirectional")
        return (lambda inp: notebook_loop(reference, inp)), x
    raise ValueError(variant)
