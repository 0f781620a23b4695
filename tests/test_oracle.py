"""The implementation under test next to torch's module: loading it, the arguments its kind
implies, the same weights on both, torch's CPU routes, and the shape of a forward result."""

from __future__ import annotations

import pytest
import torch

from rnn_impl.testing.cases import InputCase, ModuleConfig
from rnn_impl.testing.exceptions import ImplementationError
from rnn_impl.testing.kinds import KINDS
from rnn_impl.testing.oracle import (
    Adapter,
    as_tensors,
    build_pair,
    in_torch_layout,
    load_implementation,
    reference_routes,
)
from tests.support import DROP_INS


@pytest.mark.parametrize(
    "spec, adapter, message",
    [
        ("no_such_module:RNN", None, "cannot import 'no_such_module'"),
        ("torch.nn:NoSuch", None, "'torch.nn' has no attribute 'NoSuch'"),
        ("torch:__version__", None, "torch:__version__ is not callable"),
        ("torch.nn", None, "expected 'module:attr'"),
        ("torch.nn:RNN", "torch.nn:RNN", "cannot build the adapter torch.nn:RNN(): TypeError"),
        ("torch.nn:RNN", "torch:zeros", "torch:zeros has no load() and named_parameters()"),
    ],
)
def test_what_cannot_be_loaded_says_why(spec, adapter, message):
    with pytest.raises(ImplementationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_implementation(spec, adapter)


def test_the_kind_is_detected_or_given_and_the_default_follows_it():
    assert load_implementation("torch.nn:GRUCell").kind is KINDS["gru_cell"]
    assert load_implementation(kind=KINDS["lstm"]).name == "rnn_impl:LSTM"
    assert load_implementation(cell=True).name == "rnn_impl:RNNCell"
    loaded = load_implementation("torch.nn:RNN", "rnn_impl.testing:Adapter")
    assert isinstance(loaded.adapter, Adapter) and loaded.adapter_name == "rnn_impl.testing:Adapter"


def test_the_arguments_a_kind_does_not_take_are_held():
    assert DROP_INS["gru"].implied_arguments() == {
        "nonlinearity": "tanh",
        "proj_size": 0,
        "family": "gru",
    }
    assert DROP_INS["lstm"].implied_arguments() == {"nonlinearity": "tanh", "family": "lstm"}
    assert DROP_INS["rnn_cell"].implied_arguments()["num_layers"] == 1
    with pytest.raises(ImplementationError, match="nn.GRU look-alike: it has no nonlinearity"):
        DROP_INS["gru"].fixed_arguments({"nonlinearity": "relu"})


@pytest.mark.parametrize("name", DROP_INS)
def test_a_pair_has_the_same_weights_and_leaves_the_rng_alone(name):
    implementation = DROP_INS[name]
    config = ModuleConfig(3, 4, family=implementation.kind.family)
    before = torch.get_rng_state()
    reference, impl = build_pair(implementation, config, InputCase(seed=3), torch.float64)
    assert torch.equal(before, torch.get_rng_state())
    assert type(reference) is implementation.kind.torch_class()
    for (n, e), (m, a) in zip(reference.named_parameters(), impl.named_parameters(), strict=True):
        assert n == m and torch.equal(a, e) and a.dtype == torch.float64


def test_nn_lstm_has_two_cpu_routes_and_the_others_one():
    assert (
        list(reference_routes(ModuleConfig(3, 4, family="lstm"), "cpu"))
        == [
            "its default route (oneDNN)",
            "native ATen",
        ]
        or not torch.backends.mkldnn.is_available()
    )
    assert len(reference_routes(ModuleConfig(3, 4, family="gru"), "cpu")) == 1


def test_a_result_must_be_torchs_pair():
    config = ModuleConfig(3, 4, family="lstm")
    h = torch.zeros(1, 2, 4)
    output, state = as_tensors((torch.zeros(5, 2, 4), (h, h + 1)), config)
    assert state.shape == (1, 2, 8)
    with pytest.raises(AssertionError, match=r"forward must return \(output, \(h_n, c_n\)\)"):
        as_tensors((torch.zeros(5, 2, 4), h), config)
    with pytest.raises(AssertionError, match="h_n and c_n must agree"):
        as_tensors((torch.zeros(5, 2, 4), (h, torch.zeros(1, 3, 4))), config)


def test_gradients_come_back_in_torchs_layout():
    class Transposing(Adapter):
        def to_reference(self, name, value):
            return value.t()

    values = {"weight_ih_l0": torch.zeros(2, 3), "input": torch.zeros(2, 3)}
    converted = in_torch_layout(Transposing(), values)
    assert converted["weight_ih_l0"].shape == (3, 2) and converted["input"].shape == (2, 3)
