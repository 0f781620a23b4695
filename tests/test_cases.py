"""What one case is: constructor arguments by kind, inputs from a seed, an LSTM's joined
state, and the fixed arguments users type."""

from __future__ import annotations

import pytest
import torch

from rnn_impl.testing.cases import (
    InputCase,
    ModuleConfig,
    join_state,
    make_inputs,
    parse_fixed,
    split_state,
)


def test_each_family_passes_the_arguments_its_constructor_takes():
    assert "nonlinearity" in ModuleConfig(3, 4).kwargs()
    assert "proj_size" not in ModuleConfig(3, 4).kwargs()
    assert ModuleConfig(3, 4, proj_size=2, family="lstm").kwargs()["proj_size"] == 2
    assert ModuleConfig(3, 4, nonlinearity="relu").cell_args() == (3, 4, True, "relu")
    assert ModuleConfig(3, 4, family="gru").cell_args() == (3, 4, True)
    assert str(ModuleConfig(3, 4, family="gru")).startswith("GRU(input_size=3")


def test_inputs_come_from_the_seed_and_round_to_a_precision_first():
    config, case = ModuleConfig(3, 4), InputCase("batched", 5, 2, seed=7)
    a, b = make_inputs(config, case), make_inputs(config, case)
    assert torch.equal(a.padded, b.padded) and torch.equal(a.h0, b.h0)
    rounded = make_inputs(config, case, torch.float64, precision=torch.float16)
    assert torch.equal(rounded.padded, make_inputs(config, case, torch.float16).padded.double())


def test_an_lstm_state_is_joined_and_split_back():
    config = ModuleConfig(3, 5, proj_size=2, family="lstm")
    h, c = torch.randn(1, 2, 2), torch.randn(1, 2, 5)
    joined = join_state((h, c))
    assert joined.shape == (1, 2, 7) and config.state_size == 7
    assert all(torch.equal(x, y) for x, y in zip(split_state(config, joined), (h, c)))


@pytest.mark.parametrize(
    "items, message",
    [
        (["num_layers"], "fix takes NAME=VALUE"),
        (["size=3"], "fix: unknown argument 'size'"),
        (["bias=maybe"], "fix bias: 'maybe' is not a valid bool"),
        (["num_layers=0"], "fix num_layers: must be at least 1"),
        (["dropout=0.5"], "fix dropout: only 0"),
        (["bias=true", "bias=false"], "fix: bias given twice"),
    ],
)
def test_fixed_arguments_are_checked(items, message):
    with pytest.raises(ValueError, match=message):
        parse_fixed(items)
    assert parse_fixed(["bidirectional=false", "num_layers=2"]) == {
        "bidirectional": False,
        "num_layers": 2,
    }
