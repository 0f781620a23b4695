"""nn.RNN's check methods on rnn_impl.RNN: called from ``forward`` in nn.RNN's order, with
nn.RNN's arguments, so a subclass that overrides one behaves as the same subclass of nn.RNN."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import rnn_impl

METHODS = (
    "check_input",
    "get_expected_hidden_size",
    "check_hidden_size",
    "check_forward_args",
    "permute_hidden",
)


def describe(value):
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.tolist() if value.dim() == 1 else None)
    return value


def recording(base):
    """A subclass of ``base`` whose check methods log their calls, then defer to ``base``."""

    class Recording(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.calls = []

    for name in METHODS:

        def method(self, *args, _name=name, **kwargs):
            self.calls.append((_name, *map(describe, args)))
            return getattr(base, _name)(self, *args, **kwargs)

        setattr(Recording, name, method)
    return Recording


def calls_and_result(base, kwargs, make_args):
    torch.manual_seed(0)
    module = recording(base)(**kwargs)
    module.calls.clear()
    output, h_n = module(*make_args())
    return module.calls, h_n


CASES = {
    "batched": ({}, lambda: (torch.randn(4, 3, 2),)),
    "batched-h0": ({}, lambda: (torch.randn(4, 3, 2), torch.randn(2, 3, 5))),
    "batch-first": ({"batch_first": True}, lambda: (torch.randn(3, 4, 2), torch.randn(2, 3, 5))),
    "unbatched": ({}, lambda: (torch.randn(4, 2), torch.randn(2, 5))),
    "packed-h0": (
        {},
        lambda: (
            pack_padded_sequence(torch.randn(4, 3, 2), [2, 4, 3], enforce_sorted=False),
            torch.randn(2, 3, 5),
        ),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_check_methods_are_called_like_nn_rnn(case):
    extra, make_args = CASES[case]
    kwargs = {"input_size": 2, "hidden_size": 5, "num_layers": 2, **extra}
    torch.manual_seed(1)
    args = make_args()
    expected, h_expected = calls_and_result(nn.RNN, kwargs, lambda: args)
    actual, h_actual = calls_and_result(rnn_impl.RNN, kwargs, lambda: args)
    assert actual == expected
    assert torch.equal(h_actual, h_expected)


@pytest.mark.parametrize("base", [nn.RNN, rnn_impl.RNN], ids=["nn.RNN", "rnn_impl.RNN"])
def test_an_overridden_check_changes_behaviour(base):
    """A subclass that accepts any hidden size and ignores packing order, as someone adapting
    nn.RNN might write, behaves the same on both."""

    class Lenient(base):
        def check_hidden_size(self, hx, expected_hidden_size, msg=""):
            raise ValueError(f"custom: {tuple(hx.shape)} vs {expected_hidden_size}")

    module = Lenient(2, 5)
    with pytest.raises(ValueError, match=r"custom: \(1, 3, 5\) vs \(1, 3, 5\)"):
        module(torch.randn(4, 3, 2))


def test_the_methods_exist_with_nn_rnn_signatures():
    import inspect

    for name in METHODS:
        ours = inspect.signature(getattr(rnn_impl.RNN, name))
        theirs = inspect.signature(getattr(nn.RNN, name))
        assert list(ours.parameters) == list(theirs.parameters), name
    assert rnn_impl.RNN(2, 3, bidirectional=True).num_directions == 2
