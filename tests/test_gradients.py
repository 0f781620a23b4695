"""Gradients of rnn_impl.RNN against nn.RNN's, and double backward."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from rnn_impl.testing.cases import InputCase, ModuleConfig, make_inputs, upstream_grads
from rnn_impl.testing.oracle import as_tensors, build_pair
from rnn_impl.testing.tolerances import GRAD_RTOL_FLOAT64, normwise_rel
from tests.support import RNN

CONFIGS = [
    ModuleConfig(3, 4, num_layers=2),
    ModuleConfig(4, 4, num_layers=3, bidirectional=True, nonlinearity="relu"),
    ModuleConfig(2, 3, bias=False, batch_first=True, bidirectional=True),
]
CASES = [
    InputCase("batched", seq_len=5, batch=3, seed=1),
    InputCase("unbatched", seq_len=4, seed=2),
    InputCase("packed_unsorted", seq_len=5, batch=4, lengths=(3, 5, 1, 3), seed=3),
    InputCase("batched", seq_len=3, batch=0, seed=4),
]


def gradients(
    module, config, case, dtype, in_place=False, create_graph=False, frozen=(), inputs_grad=True
):
    """Gradients of a random linear function of (output, h_n) w.r.t. input, h0, parameters.

    ``in_place``: after the caller has scaled both results in place (nn.RNN allows it).
    ``create_graph``: as for double backward. ``frozen``: name prefixes of parameters that do
    not require grad; ``inputs_grad=False``: neither do input and h0. Only the leaves that
    require grad get a gradient (and must).
    """
    for name, param in module.named_parameters():
        param.requires_grad_(not name.startswith(tuple(frozen)))
    inputs = make_inputs(config, case, dtype, requires_grad=inputs_grad)
    output, h_n = as_tensors(module(*inputs.args()), config)
    if in_place:
        output.mul_(2)
        h_n.add_(1)
    g_out, g_h = upstream_grads(output, h_n, case)
    loss = (output * g_out).sum() + (h_n * g_h).sum()
    leaves = {"input": inputs.padded, "h0": inputs.h0, **dict(module.named_parameters())}
    wanted = {name: leaf for name, leaf in leaves.items() if leaf.requires_grad}
    grads = torch.autograd.grad(loss, list(wanted.values()), create_graph=create_graph)
    return dict(zip(wanted, grads))


def assert_gradients_match(actual, expected):
    assert list(actual) == list(expected)
    for name in expected:
        error = normwise_rel(actual[name], expected[name])
        assert error <= GRAD_RTOL_FLOAT64, f"d/d{name}: norm-wise relative error {error:.3g}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.layout + str(c.batch))
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_gradients_match(config, case, dtype):
    reference, impl = build_pair(RNN, config, case, dtype)
    expected = gradients(reference, config, case, dtype)
    actual = gradients(impl, config, case, dtype)
    if dtype == torch.float64:
        assert_gradients_match(actual, expected)
        return
    assert list(actual) == list(expected)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], msg=f"d/d{name}")


VARIANTS = {
    "results modified in place": dict(in_place=True),
    "create_graph": dict(create_graph=True),
    "parameters frozen": dict(frozen=("weight", "bias")),
    "input and h0 constant": dict(inputs_grad=False),
    "W_hh frozen": dict(frozen=("weight_hh",)),
    "b_ih frozen": dict(frozen=("bias_ih",)),
    "b_hh frozen": dict(frozen=("bias_hh",)),
}
"""Ways of asking for gradients that take other paths through a hand-written backward."""

VARIANT_CONFIGS = CONFIGS + [ModuleConfig(3, 4, num_layers=2, nonlinearity="relu")]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("config", VARIANT_CONFIGS, ids=str)
def test_gradient_variants_match(config, variant):
    case = CASES[0]
    reference, impl = build_pair(RNN, config, case, torch.float64)
    expected = gradients(reference, config, case, torch.float64, **VARIANTS[variant])
    actual = gradients(impl, config, case, torch.float64, **VARIANTS[variant])
    assert_gradients_match(actual, expected)


def test_bias_gradients_are_distinct_tensors():
    config, case = CONFIGS[0], CASES[0]
    _, impl = build_pair(RNN, config, case, torch.float64)
    output, h_n = impl(*make_inputs(config, case, torch.float64).args())
    (output.sum() + h_n.sum()).backward()
    assert impl.bias_ih_l0.grad.data_ptr() != impl.bias_hh_l0.grad.data_ptr()


@pytest.mark.parametrize("config", CONFIGS[:2], ids=str)
@pytest.mark.parametrize("case", CASES[:3], ids=lambda c: c.layout)
def test_gradcheck_and_gradgradcheck(config, case):
    _, impl = build_pair(RNN, config, InputCase(seq_len=3, batch=2), torch.float64)
    small = InputCase(case.layout, seq_len=3, batch=2, lengths=(1, 3) if case.packed else None)
    inputs = make_inputs(config, small, torch.float64, requires_grad=True)
    params = dict(impl.named_parameters())
    names = list(params)

    def f(x, h0, *weights):
        arg = x
        if small.packed:
            arg = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.tensor(small.lengths), enforce_sorted=False
            )
        return as_tensors(functional_call(impl, dict(zip(names, weights)), (arg, h0)), config)

    args = (inputs.padded, inputs.h0, *[p.detach().requires_grad_() for p in params.values()])
    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("batch", [1, 3])
def test_float32_pre_activation_gradients_are_nn_rnns_bit_for_bit(batch, nonlinearity):
    """The hand-written BPTT rounds each step as autograd does: mm, then add (BLAS's addmm_
    accumulates into its addend differently, on AMD EPYC at every batch size, on Intel Xeons
    at a batch of one). d/dh0 of one layer is dz[0] W_hh,
    the same product nn.RNN computes, so it shows dz exactly; weight gradients are sums over
    steps in another order and only close. Large weights make any rounding difference grow."""
    config = ModuleConfig(3, 5, nonlinearity=nonlinearity)
    case = InputCase("batched", seq_len=12, batch=batch, seed=5, weight_scale=4.0)
    reference, impl = build_pair(RNN, config, case)
    expected = gradients(reference, config, case, torch.float32)
    actual = gradients(impl, config, case, torch.float32)
    assert torch.equal(actual["h0"], expected["h0"])
