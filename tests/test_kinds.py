"""The table of kinds: one record per torch module the verifier knows, read by everyone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnn_impl
from rnn_impl.testing.cases import ModuleConfig
from rnn_impl.testing.kinds import FAMILIES, KINDS, RNN, detect, kind_named

DISTINCT = ModuleConfig(3, 4, 2, "relu", False, True, 0.25, True, 2)
"""A value of every argument, none at its default."""


@pytest.mark.parametrize("kind", KINDS.values(), ids=lambda k: k.name)
def test_each_record_describes_torchs_module(kind):
    """The arguments are torch's constructor's, in its positional order; the gate blocks are
    the row blocks of its weights; the state is a pair for nn.LSTM and nn.LSTMCell."""
    module = kind.torch_class()
    assert issubclass(module, nn.Module) and kind.reference == f"nn.{module.__name__}"
    values = [getattr(DISTINCT, name) for name in kind.arguments]
    with torch.random.fork_rng():
        built = module(*values)
    assert [getattr(built, name) for name in kind.arguments] == values
    weight = built.weight_ih if kind.is_cell else built.weight_ih_l0
    assert weight.shape[0] == max(1, len(kind.gates)) * DISTINCT.hidden_size
    assert kind.module.family == kind.family and kind.cell.is_cell and not kind.module.is_cell
    assert kind.paired_state == issubclass(module, (nn.LSTM, nn.LSTMCell))


def test_families_and_defaults():
    assert FAMILIES == ("rnn", "gru", "lstm")
    assert RNN is KINDS["rnn"] and RNN.cell is KINDS["rnn_cell"]
    assert KINDS["lstm"].state_name == "(h_n, c_n)" and KINDS["gru"].state_name == "h_n"
    assert KINDS["lstm_cell"].what == "a cell" and KINDS["gru"].what == "a recurrent module"


@pytest.mark.parametrize(
    "factory, name",
    [
        (rnn_impl.RNN, "rnn"),
        (rnn_impl.LSTMCell, "lstm_cell"),
        (nn.GRU, "gru"),
        (nn.RNNCell, "rnn_cell"),
        (type("MyLSTM", (nn.LSTM,), {}), "lstm"),
        (type("Declared", (nn.Module,), {"rnn_verify_kind": "gru_cell"}), "gru_cell"),
        (lambda *args, **kwargs: None, "rnn"),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_detect(factory, name):
    assert detect(factory) is KINDS[name]


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown kind 'cell' \\(choose from rnn, gru, lstm"):
        kind_named("cell")
    assert kind_named("lstm").torch_class() is torch.nn.LSTM
