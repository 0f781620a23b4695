"""Running one property through Hypothesis: explicit examples first, a run that checked
less than it claims fails, a failure is collected with its example."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

from rnn_impl.testing.cases import InputCase, ModuleConfig
from rnn_impl.testing.exceptions import PropertyFailure
from rnn_impl.testing.properties._core import Property
from rnn_impl.testing.runner import verify
from rnn_impl.testing.strategies import Example
from tests.support import DROP_INS, RNN


def spy(seen, fails_on=None):
    def check(implementation, example):
        seen.append(example)
        if fails_on is not None and example.case.seed == fails_on:
            raise PropertyFailure("planted")

    return Property("spy", "laws", check, "law", "numerics", dtypes=(torch.float64,))


def test_replayed_examples_run_first_then_the_covering_set_then_draws():
    seen = []
    prop = spy(seen)
    recorded = Example(ModuleConfig(2, 3), InputCase(seed=77), "cpu", torch.float64)
    verification = verify(
        prop, RNN, "cpu", torch.float64, settings(max_examples=3), replay=[recorded]
    )
    covering = prop.covering("cpu", torch.float64)
    assert seen[0] == recorded and seen[1 : 1 + len(covering)] == covering
    assert verification.examples == len(seen) > len(covering) + 1


def test_a_replayed_example_takes_the_arguments_its_kind_implies():
    seen = []
    recorded = Example(ModuleConfig(2, 3, nonlinearity="relu"), InputCase(), "cpu", torch.float64)
    verify(
        spy(seen),
        DROP_INS["gru"],
        "cpu",
        torch.float64,
        settings(max_examples=1),
        replay=[recorded],
        covering=False,
    )
    assert seen[0].config.family == "gru" and seen[0].config.nonlinearity == "tanh"


def test_a_failure_is_collected_with_its_example():
    seen = []
    verification = verify(
        spy(seen, fails_on=0), RNN, "cpu", torch.float64, settings(max_examples=2), collect=True
    )
    assert verification.failed and verification.last.case.seed == 0
    assert verification.headline == "PropertyFailure: planted"


def test_a_run_needs_at_least_one_limit():
    with pytest.raises(ValueError, match="give at least one SizeLimits"):
        verify(spy([]), RNN, "cpu", torch.float64, limits=())
