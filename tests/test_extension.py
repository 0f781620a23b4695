"""The drop-ins' public extension points: a subclass that overrides ``step``, ``layer`` or
``recurrence`` (or a cell's ``step``) changes what it says, keeps everything else, and,
overriding with torch's own arithmetic, stays bit-identical to torch's module in every
layout."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnn_impl
from rnn_impl.testing.cases import InputCase, ModuleConfig, make_inputs
from rnn_impl.testing.oracle import Implementation, build_pair
from tests.support import assert_identical, native, tensors

CASES = [
    InputCase("batched", 6, 3, seed=1),
    InputCase("unbatched", 5, seed=2),
    InputCase("packed_unsorted", 6, 4, lengths=(2, 6, 1, 5), seed=3),
]
CONFIGS = [
    ModuleConfig(3, 5, 2, "relu", bidirectional=True),
    ModuleConfig(3, 5, 2, bidirectional=True, family="gru"),
    ModuleConfig(3, 5, 2, bidirectional=True, proj_size=2, family="lstm"),
]


def through(base, method):
    """A subclass of ``base`` whose ``method`` only calls the drop-in's."""

    def passing(self, *args, **kwargs):
        return getattr(super(cls, self), method)(*args, **kwargs)

    cls = type(f"{base.__name__}Through{method.title()}", (base,), {method: passing})
    return cls


@pytest.mark.parametrize("method", ["step", "layer", "recurrence"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.layout)
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_an_override_with_torchs_arithmetic_stays_bit_identical(config, case, method):
    """Padded, unbatched and packed input (whose batch shrinks from step to step going
    forward and grows going backward) go through the override; an LSTM's step gets and
    gives ``(h, c)`` and applies ``w_hr`` itself."""
    base = getattr(rnn_impl, config.kind.torch_name)
    factory = through(base, method)
    implementation = Implementation(f"x:{factory.__name__}", factory, kind=config.kind)
    reference, impl = build_pair(implementation, config, case)
    args = make_inputs(config, case).args()
    with torch.no_grad(), native():
        assert_identical(tensors(reference(*args)), tensors(impl(*args)))


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_a_cells_step_override_keeps_its_checks_and_results(name):
    factory = through(getattr(rnn_impl, name), "step")
    torch.manual_seed(0)
    reference = getattr(nn, name)(3, 4)
    torch.manual_seed(0)
    impl = factory(3, 4)
    x = torch.randn(2, 3)
    assert_identical(tensors(reference(x)), tensors(impl(x)))
    with pytest.raises(RuntimeError):
        impl(torch.randn(2, 5))


def test_a_custom_step_changes_every_step_padded_and_packed_alike():
    class Halved(rnn_impl.RNN):
        def step(self, input, state, weights):
            return 0.5 * super().step(input, state, weights)

    torch.manual_seed(0)
    plain, halved = rnn_impl.RNN(3, 4), Halved(3, 4)
    halved.load_state_dict(plain.state_dict())
    x = torch.randn(5, 2, 3)
    packed = nn.utils.rnn.pack_padded_sequence(x, [5, 5])
    with torch.no_grad():
        padded_out, packed_out = halved(x)[0], halved(packed)[0].data
        assert not torch.equal(padded_out, plain(x)[0])
        assert torch.equal(padded_out.flatten(0, 1), packed_out)


def test_the_weights_a_step_gets_are_the_layers():
    seen = []

    class Recording(rnn_impl.LSTM):
        def step(self, input, state, weights):
            seen.append((input.shape, tuple(t.shape for t in state), weights.w_hr.shape))
            return super().step(input, state, weights)

    Recording(3, 5, proj_size=2)(torch.randn(4, 2, 3))
    assert seen[0] == (torch.Size([2, 20]), ((2, 2), (2, 5)), torch.Size([2, 5]))
    assert len(seen) == 4
