"""rnn_impl.RNNCell against nn.RNNCell: constructor, errors, bit-exact results, gradients."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

import rnn_impl
from rnn_impl.testing.invalid_calls import (
    CELL_CONSTRUCTOR_CASES,
    CELL_FORWARD_CASES,
    ErrorSizes,
    assert_same_outcome,
    outcome,
)
from tests.support import DTYPES, both

CLASSES = (nn.RNNCell, rnn_impl.RNNCell)


@pytest.mark.parametrize("name", CELL_CONSTRUCTOR_CASES)
def test_constructor_outcomes(name):
    args, kwargs = CELL_CONSTRUCTOR_CASES[name]
    assert_same_outcome(
        outcome(nn.RNNCell, *args, **kwargs),
        outcome(rnn_impl.RNNCell, *args, **kwargs),
        f"RNNCell(*{args}, **{kwargs})",
    )


@pytest.mark.parametrize(
    "nonlinearity, bias", list(itertools.product(["tanh", "relu", "gelu"], [True, False]))
)
@pytest.mark.parametrize("name", CELL_FORWARD_CASES)
def test_forward_outcomes(name, nonlinearity, bias):
    reference, impl = both(*CLASSES, 3, 4, bias, nonlinearity)
    args = CELL_FORWARD_CASES[name](ErrorSizes())
    assert_same_outcome(outcome(reference, *args), outcome(impl, *args), f"{name}, {nonlinearity}")


@pytest.mark.parametrize(
    "args", [(3, 4), (5, 2, False, "relu"), (4, 4, True, "relu"), (3, 1), (2, 0)], ids=str
)
def test_parameters_init_repr(args):
    reference, impl = both(*CLASSES, *args)
    assert [(n, p.shape) for n, p in impl.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]
    assert all(torch.equal(a, b) for a, b in zip(impl.parameters(), reference.parameters()))
    assert repr(impl) == repr(reference)
    assert impl.__constants__ == nn.RNNCell.__constants__
    assert (impl.bias_ih is None) == (reference.bias_ih is None)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(5,), (3, 5), (0, 5)], ids=str)
@pytest.mark.parametrize("with_h", [True, False])
@pytest.mark.parametrize("nonlinearity, bias", [("tanh", True), ("relu", False)])
def test_bit_exact_and_gradients(dtype, shape, with_h, nonlinearity, bias):
    reference, impl = both(*CLASSES, 5, 7, bias, nonlinearity, dtype=dtype)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g).to(dtype)
    h = torch.randn(*shape[:-1], 7, generator=g).to(dtype) if with_h else None
    results = []
    for module in (reference, impl):
        xx = x.clone().requires_grad_()
        hh = h.clone().requires_grad_() if with_h else None
        out = module(xx, hh)
        leaves = [xx, *([hh] if with_h else []), *module.parameters()]
        grads = torch.autograd.grad(out.sum(), leaves) if dtype in DTYPES[:2] else ()
        results.append((out, grads))
    (out_e, grads_e), (out_a, grads_a) = results
    assert out_a.shape == out_e.shape and torch.equal(out_a, out_e)
    for a, e in zip(grads_a, grads_e):
        assert torch.equal(a, e)


def test_gradgradcheck():
    _, impl = both(*CLASSES, 3, 4, dtype=torch.float64)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(impl, (x, h))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("shape", [(5,), (3, 5)], ids=str)
def test_zero_state_follows_the_input_on_meta(shape, dtype):
    reference, impl = (
        cls(5, 7, device="meta", dtype=dtype) for cls in (nn.RNNCell, rnn_impl.RNNCell)
    )
    x = torch.empty(shape, device="meta", dtype=dtype)
    expected, actual = reference(x), impl(x)
    assert (actual.shape, actual.dtype, actual.device) == (
        expected.shape,
        expected.dtype,
        expected.device,
    )
