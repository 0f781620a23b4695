"""pytest-benchmark suite: nn.RNN, rnn_impl and the notebook-style loop per shape.

Run without xdist (``tox -e bench``); under ``pytest -n auto`` pytest-benchmark disables
itself and each benchmark runs once as a plain test, so the suite never rots.
"""

from __future__ import annotations

import pytest
import torch

from tests.benchmarks.shapes import SHAPES, build

VARIANTS = ["nn.RNN", "rnn_impl", "notebook"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_no_grad(benchmark, shape, variant):
    benchmark.group = f"forward-no-grad-{shape}"
    module, x = build(variant, shape)

    def run():
        with torch.no_grad():
            return module(x)

    output, _ = benchmark(run)
    assert output.shape[0] == x.shape[0]


BACKWARD_CASES = [(shape, torch.float32) for shape in SHAPES] + [("mid", torch.float64)]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "shape, dtype", BACKWARD_CASES, ids=[f"{s}-{str(d)[6:]}" for s, d in BACKWARD_CASES]
)
def test_forward_backward(benchmark, shape, dtype, variant):
    benchmark.group = f"forward-backward-{shape}-{str(dtype)[6:]}"
    module, x = build(variant, shape, dtype)
    x = x.requires_grad_()

    def run():
        output, h_n = module(x)
        (output.sum() + h_n.sum()).backward()
        return x.grad

    assert benchmark(run) is not None
