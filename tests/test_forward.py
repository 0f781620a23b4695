"""rnn_impl.RNN's forward pass against nn.RNN's: bit-exact on CPU in every layout and dtype."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.cases import InputCase, ModuleConfig, make_inputs
from rnn_impl.testing.invalid_calls import FORWARD_CASES, ErrorSizes, assert_same_outcome, outcome
from rnn_impl.testing.oracle import build_pair
from tests.support import DTYPES, RNN, assert_identical, tensors

CONFIGS = [
    ModuleConfig(3, 4),
    ModuleConfig(4, 4, num_layers=3, bidirectional=True),
    ModuleConfig(2, 5, num_layers=2, nonlinearity="relu", bias=False),
    ModuleConfig(3, 6, num_layers=2, batch_first=True, bidirectional=True),
]
CASES = [
    InputCase("batched", seq_len=6, batch=3),
    InputCase("batched", seq_len=4, batch=4, with_h0=False),
    InputCase("batched", seq_len=1, batch=1),
    InputCase("batched", seq_len=3, batch=0),
    InputCase("unbatched", seq_len=5),
    InputCase("unbatched", seq_len=2, with_h0=False),
    InputCase("packed_sorted", seq_len=5, batch=4, lengths=(5, 5, 3, 1)),
    InputCase("packed_unsorted", seq_len=6, batch=5, lengths=(2, 6, 2, 4, 1)),
    InputCase("packed_unsorted", seq_len=3, batch=3, lengths=(1, 3, 3), with_h0=False),
]


def run(module, inputs):
    """Every tensor of ``module``'s forward on ``inputs``, and the global RNG state after it."""
    return [*tensors(module(*inputs.args())), torch.get_rng_state()]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: f"{c.layout}-T{c.seq_len}-B{c.batch}-h0{c.with_h0}"
)
def test_bit_exact_on_cpu(config, case, dtype):
    reference, impl = build_pair(RNN, config, case, dtype)
    inputs = make_inputs(config, case, dtype)
    with torch.no_grad():
        assert_identical(run(reference, inputs), run(impl, inputs))


NON_CONTIGUOUS_H0 = {
    # (L*D, B, H) views of other memory, as callers make them by transposing or slicing
    "column-major": lambda states, batch, hidden: torch.randn(hidden, batch, states).permute(
        2, 1, 0
    ),
    "every other row": lambda states, batch, hidden: torch.randn(states, 2 * batch, hidden)[:, ::2],
    "expanded": lambda states, batch, hidden: torch.randn(states, 1, hidden).expand(
        states, batch, hidden
    ),
}


@pytest.mark.parametrize("layout", NON_CONTIGUOUS_H0)
@pytest.mark.parametrize(
    "config", [ModuleConfig(6, 5), ModuleConfig(6, 5, num_layers=2, bidirectional=True)], ids=str
)
def test_bit_exact_with_non_contiguous_h0(layout, config):
    reference, impl = build_pair(RNN, config, CASES[0])
    x = torch.randn(7, 3, 6)
    hx = NON_CONTIGUOUS_H0[layout](config.num_layers * config.num_directions, 3, 5)
    assert not hx.is_contiguous()
    with torch.no_grad():
        expected, actual = reference(x, hx), impl(x, hx)
    assert all(torch.equal(a, e) for a, e in zip(actual, expected, strict=True))


@pytest.mark.parametrize("autocast_dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("case", [CASES[0], CASES[4], CASES[7]], ids=lambda c: c.layout)
def test_bit_exact_under_cpu_autocast(config, case, autocast_dtype):
    """nn.RNN under autocast runs its linears in the lower precision (h0 and the rest
    follow); outputs and every gradient must be nn.RNN's, bit for bit."""
    reference, impl = build_pair(RNN, config, case)
    results = []
    for module in (reference, impl):
        inputs = make_inputs(config, case, requires_grad=True)
        with torch.autocast("cpu", dtype=autocast_dtype):
            output, h_n = module(*inputs.args())
        data = output.data if isinstance(output, PackedSequence) else output
        (data.float().sum() + h_n.float().pow(2).sum()).backward()
        grads = [inputs.padded.grad, inputs.h0.grad, *(p.grad for p in module.parameters())]
        results.append((data, h_n, grads))
    (out_e, h_e, grads_e), (out_a, h_a, grads_a) = results
    assert out_a.dtype == out_e.dtype == autocast_dtype
    assert torch.equal(out_a, out_e) and torch.equal(h_a, h_e)
    assert all(torch.equal(a, e) for a, e in zip(grads_a, grads_e, strict=True))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(
    "p, case",
    list(itertools.product([0.0, 0.3, 0.8, 1.0], [CASES[0], CASES[4], CASES[7]])),
    ids=str,
)
def test_dropout_masks_and_rng_state_identical(p, case, dtype):
    config = ModuleConfig(3, 5, num_layers=3, dropout=p, bidirectional=True)
    reference, impl = build_pair(RNN, config, case, dtype)
    inputs = make_inputs(config, case, dtype)
    results = []
    for module in (reference, impl):
        torch.manual_seed(2024)
        results.append(run(module, inputs))
    assert_identical(*results)


def test_eval_mode_is_deterministic_and_skips_dropout():
    config = ModuleConfig(3, 5, num_layers=3, dropout=0.5)
    reference, impl = build_pair(RNN, config, CASES[0])
    reference.eval()
    impl.eval()
    inputs = make_inputs(config, CASES[0])
    state = torch.get_rng_state()
    first = run(impl, inputs)
    assert torch.equal(first[2], state), "eval mode consumed RNG"
    assert_identical(first, run(impl, inputs))
    assert_identical(run(reference, inputs), first)


def test_changed_dropout_attribute_takes_effect_like_nn_rnn():
    config = ModuleConfig(3, 5, num_layers=2)
    reference, impl = build_pair(RNN, config, CASES[0])
    inputs = make_inputs(config, CASES[0])
    for value in (0.5, 1.5):
        reference.dropout = impl.dropout = value
        torch.manual_seed(0)
        expected = outcome(reference, *inputs.args())
        torch.manual_seed(0)
        assert_same_outcome(expected, outcome(impl, *inputs.args()), f"dropout={value}")


def test_omitted_h0_equals_zeros_and_h0_is_not_modified():
    config, case = CONFIGS[1], CASES[0]
    _, impl = build_pair(RNN, config, case)
    inputs = make_inputs(config, case)
    h0 = inputs.h0.clone()
    out, h_n = impl(inputs.input, inputs.h0)
    assert torch.equal(inputs.h0, h0)
    assert h_n.data_ptr() != inputs.h0.data_ptr()
    out_none, h_none = impl(inputs.input)
    out_zero, h_zero = impl(inputs.input, torch.zeros_like(h0))
    assert torch.equal(out_none, out_zero) and torch.equal(h_none, h_zero)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_h_n_is_the_last_valid_step(bidirectional):
    config = ModuleConfig(3, 4, num_layers=2, bidirectional=bidirectional)
    _, impl = build_pair(RNN, config, CASES[0])
    out, h_n = impl(make_inputs(config, CASES[0]).input)
    assert torch.equal(h_n[-config.num_directions], out[-1, :, :4])
    if bidirectional:
        assert torch.equal(h_n[-1], out[0, :, 4:])


@pytest.mark.parametrize(
    "sizes",
    [ErrorSizes(), ErrorSizes(batch_first=True), ErrorSizes(bidirectional=True, num_layers=1)],
    ids=str,
)
@pytest.mark.parametrize("name", FORWARD_CASES)
def test_invalid_input_fails_like_nn_rnn(name, sizes):
    config = sizes.config()
    reference, impl = build_pair(RNN, config, InputCase())
    args = FORWARD_CASES[name](sizes)
    assert_same_outcome(outcome(reference, *args), outcome(impl, *args), f"{name} with {config}")


@pytest.mark.parametrize("changed", ["weight_hh_l0", "weight_ih_l0", "bias_hh_l1"])
def test_mixed_dtype_parameters_fail_like_nn_rnn(changed):
    config = ModuleConfig(3, 4, num_layers=2)
    reference, impl = build_pair(RNN, config, CASES[0])
    for module in (reference, impl):
        setattr(module, changed, torch.nn.Parameter(getattr(module, changed).detach().double()))
    inputs = make_inputs(config, CASES[0])
    assert_same_outcome(
        outcome(reference, *inputs.args()), outcome(impl, *inputs.args()), f"{changed} in float64"
    )
