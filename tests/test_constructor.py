"""rnn_impl.RNN's constructor, parameters, initialisation and repr against nn.RNN's."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import rnn_impl
from rnn_impl.testing.invalid_calls import CONSTRUCTOR_CASES, assert_same_outcome, outcome
from tests.support import both

CONFIGS = [
    dict(input_size=3, hidden_size=4),
    dict(input_size=3, hidden_size=4, num_layers=3, bidirectional=True),
    dict(input_size=5, hidden_size=2, num_layers=2, bias=False),
    dict(input_size=2, hidden_size=6, num_layers=2, nonlinearity="relu", batch_first=True),
    dict(input_size=4, hidden_size=4, num_layers=2, dropout=0.5, bidirectional=True),
    dict(input_size=3, hidden_size=4, dropout=1),
    dict(input_size=3, hidden_size=4, bidirectional=1),
]


CLASSES = (nn.RNN, rnn_impl.RNN)


@pytest.mark.parametrize("name", CONSTRUCTOR_CASES)
def test_invalid_arguments_fail_like_nn_rnn(name):
    args, kwargs = CONSTRUCTOR_CASES[name]
    assert_same_outcome(
        outcome(nn.RNN, *args, **kwargs),
        outcome(rnn_impl.RNN, *args, **kwargs),
        f"RNN(*{args}, **{kwargs})",
    )


def test_signature_is_nn_rnns_documented_order():
    params = list(inspect.signature(rnn_impl.RNN).parameters.values())
    named = [(p.name, p.default) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert named == [
        ("input_size", inspect.Parameter.empty),
        ("hidden_size", inspect.Parameter.empty),
        ("num_layers", 1),
        ("nonlinearity", "tanh"),
        ("bias", True),
        ("batch_first", False),
        ("dropout", 0.0),
        ("bidirectional", False),
        ("device", None),
        ("dtype", None),
    ]


def test_positional_arguments_mean_the_same():
    args = (3, 4, 2, "relu", False, True, 0.25, True)
    torch.manual_seed(1)
    reference = nn.RNN(*args)
    torch.manual_seed(1)
    impl = rnn_impl.RNN(*args)
    assert repr(impl) == repr(reference)
    for attr in nn.RNN.__constants__ + ["nonlinearity", "training"]:
        assert getattr(impl, attr) == getattr(reference, attr), attr


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_parameters_names_shapes_order_and_init(kwargs):
    reference, impl = both(*CLASSES, **kwargs)
    ref_params = list(reference.named_parameters())
    impl_params = list(impl.named_parameters())
    assert [n for n, _ in impl_params] == [n for n, _ in ref_params]
    for (name, a), (_, b) in zip(impl_params, ref_params):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert torch.equal(a, b), f"{name}: initialisation differs under the same seed"
    assert list(impl.state_dict()) == list(reference.state_dict())
    assert impl._flat_weights_names == reference._flat_weights_names
    assert impl._all_weights == reference._all_weights
    assert [[p.shape for p in ps] for ps in impl.all_weights] == [
        [p.shape for p in ps] for ps in reference.all_weights
    ]
    assert list(impl.buffers()) == list(reference.buffers()) == []


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_repr_and_attributes(kwargs):
    reference, impl = both(*CLASSES, **kwargs)
    assert repr(impl) == repr(reference)
    for attr in nn.RNN.__constants__ + ["nonlinearity"]:
        assert getattr(impl, attr) == getattr(reference, attr), attr
    assert impl.__constants__ == nn.RNN.__constants__


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_construction_consumes_the_same_rng(kwargs):
    states = []
    for cls in (nn.RNN, rnn_impl.RNN):
        torch.manual_seed(0)
        cls(**kwargs)
        states.append(torch.get_rng_state())
    assert torch.equal(*states)


def test_bias_false_registers_no_biases():
    _, impl = both(*CLASSES, input_size=3, hidden_size=4, num_layers=2, bias=False)
    assert not hasattr(impl, "bias_ih_l0")
    assert all(name.startswith("weight") for name, _ in impl.named_parameters())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_factory_kwargs_and_default_dtype(dtype):
    reference, impl = both(*CLASSES, input_size=3, hidden_size=4, dtype=dtype)
    assert {p.dtype for p in impl.parameters()} == {dtype}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert {p.dtype for p in rnn_impl.RNN(3, 4).parameters()} == {torch.float64}
    finally:
        torch.set_default_dtype(previous)
    meta = rnn_impl.RNN(3, 4, device="meta")
    assert {p.device.type for p in meta.parameters()} == {"meta"}


def test_reset_parameters_matches():
    reference, impl = both(*CLASSES, input_size=3, hidden_size=5, num_layers=2)
    torch.manual_seed(7)
    reference.reset_parameters()
    torch.manual_seed(7)
    impl.reset_parameters()
    for a, b in zip(impl.parameters(), reference.parameters()):
        assert torch.equal(a, b)


def test_flatten_parameters_is_a_harmless_no_op():
    _, impl = both(*CLASSES, input_size=3, hidden_size=4)
    pointers = [p.data_ptr() for p in impl.parameters()]
    impl.flatten_parameters()
    assert [p.data_ptr() for p in impl.parameters()] == pointers
