"""Differential properties: the implementation against nn.RNN on the same weights and input."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import hypothesis.strategies as st
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.cases import make_inputs, split_state, upstream_grads
from rnn_impl.testing.oracle import Implementation, as_tensors, build_pair, in_torch_layout
from rnn_impl.testing.properties._core import (
    ZERO,
    Measure,
    PropertyFailure,
    assert_close,
    assert_exact_results,
    assert_oracle,
    data,
    fail,
    forward,
    on_routes,
    register,
)
from rnn_impl.testing.strategies import Example, sizes
from rnn_impl.testing.tolerances import (
    GRAD_RTOL_FLOAT64,
    GRADCHECK_ATOL,
    GRADCHECK_EPS,
    GRADCHECK_RTOL,
    ORACLE_ERROR_FACTOR,
    difference,
    normwise_rel,
    oracle_bound,
    rounding_floor,
    same_gradient,
    summed_terms,
)


def run(module: nn.Module, example: Example, requires_grad: bool = False, **where):
    """Forward one example: ``(inputs, output, h_n)`` (a packed output gives its data, an
    LSTM's state is joined)."""
    inputs = make_inputs(
        example.config,
        example.case,
        where.get("dtype", example.dtype),
        where.get("device", example.device),
        requires_grad=requires_grad,
    )
    output, h_n = forward(example, module, *inputs.args())
    return inputs, data(output), h_n


def in_float64(reference: nn.RNN) -> nn.RNN:
    """nn.RNN in float64 on the CPU with the reference's (already rounded) weights."""
    return copy.deepcopy(reference).to("cpu", torch.float64)


def _judge(example: Example, what: str, actual, reference: Tensor, oracle: Tensor | None):
    if oracle is None:
        return assert_close(example, what, actual, reference)
    return assert_oracle(example, what, actual, reference, oracle.to(reference.device))


@register("output_exact", "differential", "exact", "drop-in", devices=("cpu",))
def output_exact(implementation: Implementation, example: Example) -> Measure:
    """output and h_n are bit-identical to nn.RNN's on CPU (torch.equal); for nn.LSTM, on
    one of its CPU routes (oneDNN's, or ATen's native one), both run there."""
    reference, impl = build_pair(implementation, example.config, example.case, example.dtype)
    with torch.no_grad():
        runs = on_routes(
            example, lambda: run(impl, example)[1:], lambda: run(reference, example)[1:]
        )
    return assert_exact_results(example, ("output", example.config.kind.state_name), runs)


def compare_outputs(example: Example, reference: nn.RNN, impl: nn.Module) -> Measure:
    """Run both on the example and judge: assert_close in float64 on CPU, else the float64
    oracle bound. Returns the normalised error."""
    with torch.no_grad():
        _, out_e, h_e = run(reference, example)
        _, out_a, h_a = run(impl, example)
        out_o = h_o = None
        if example.dtype != torch.float64 or example.device != "cpu":
            _, out_o, h_o = run(in_float64(reference), example, dtype=torch.float64, device="cpu")
            if example.dtype == torch.float64:
                out_e, h_e, out_o, h_o = out_o.to(out_e.device), h_o.to(h_e.device), None, None
    worst = _judge(example, "output", out_a, out_e, out_o)
    return max(worst, _judge(example, example.config.kind.state_name, h_a, h_e, h_o))


@register("output_close", "differential", "tolerance", "numerics")
def output_close(implementation: Implementation, example: Example) -> Measure:
    """output and h_n match nn.RNN's: assert_close in float64, else a float64 oracle bound."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    return compare_outputs(example, reference, impl)


AUTOCAST_DTYPES = (torch.bfloat16, torch.float16)


@register("autocast", "differential", "exact", "drop-in", devices=("cpu",), dtypes=(torch.float32,))
def autocast(implementation: Implementation, example: Example) -> Measure:
    """Under ``torch.autocast`` on the CPU (bfloat16, then float16) output and h_n have
    nn.RNN's dtype and values, bit for bit: nn.RNN runs its ``linear``s in the lower precision
    and everything after them follows (nn.LSTM: on one of its CPU routes that runs)."""
    reference, impl = build_pair(implementation, example.config, example.case, example.dtype)
    for low in AUTOCAST_DTYPES:
        with torch.no_grad(), torch.autocast("cpu", dtype=low):
            runs = on_routes(
                example, lambda: run(impl, example)[1:], lambda: run(reference, example)[1:]
            )
        where = f"under {str(low).removeprefix('torch.')} autocast"
        labels = (f"output {where}", f"{example.config.kind.state_name} {where}")
        assert_exact_results(example, labels, runs)
    return ZERO


def gradients(module: nn.Module, names: Mapping[str, Tensor], example: Example, **where):
    """Gradients of ``<g_out, output> + <g_h, h_n>`` with respect to input, h0 and ``names``."""
    inputs, output, h_n = run(module, example, requires_grad=True, **where)
    g_out, g_h = upstream_grads(output, h_n, example.case)
    loss = (output * g_out).sum() + (h_n * g_h).sum()
    leaves = {"input": inputs.padded, "h0": inputs.h0, **names}
    grads = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
    return {
        name: grad if grad is not None else torch.zeros_like(leaf)
        for (name, leaf), grad in zip(leaves.items(), grads)
    }


@register("gradients", "gradients", "tolerance", "numerics", draw={"with_h0": True})
def gradients_close(implementation: Implementation, example: Example) -> Measure:
    """d(output, h_n) w.r.t. input, h0 and every named parameter match nn.RNN's.

    Norm-wise, per gradient: in float64 within ``GRAD_RTOL_FLOAT64`` of nn.RNN's; in other
    dtypes, against nn.RNN in float64, within :func:`~rnn_impl.testing.tolerances.oracle_bound`
    of nn.RNN's own error, or of the rounding floor of the terms the gradient sums
    (:func:`~rnn_impl.testing.tolerances.rounding_floor`) where nn.RNN's error is smaller.
    """
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    expected_names = dict(reference.named_parameters())
    actual_names = implementation.adapter.named_parameters(impl)
    missing = sorted(set(expected_names) - set(actual_names))
    if missing:
        raise fail(example, f"parameters missing from the implementation: {missing}")
    expected = gradients(reference, expected_names, example)
    actual = gradients(impl, {n: actual_names[n] for n in expected_names}, example)
    actual = in_torch_layout(implementation.adapter, actual)
    oracle = None
    if example.dtype != torch.float64:
        high = in_float64(reference)
        oracle = gradients(
            high, dict(high.named_parameters()), example, dtype=torch.float64, device="cpu"
        )
    worst = ZERO
    case, hidden = example.case, example.config.hidden_size
    for name, e in expected.items():
        a = actual[name]
        if a.shape != e.shape:
            raise fail(
                example,
                f"d/d{name} has shape {tuple(a.shape)}, {example.config.kind.reference}'s {tuple(e.shape)}",
            )
        terms = summed_terms(name, case.seq_len, case.batch, hidden)
        floor = rounding_floor(terms, example.dtype)
        if oracle is None:
            error = normwise_rel(a, e)
            bound = max(GRAD_RTOL_FLOAT64, ORACLE_ERROR_FACTOR * floor)
            detail = f"norm-wise relative difference {error:.3g} > {bound:.3g}"
        else:
            theirs = normwise_rel(e, oracle[name])
            twin = same_gradient(name)
            if twin in expected:
                theirs = max(theirs, normwise_rel(expected[twin], oracle[twin]))
            error = normwise_rel(a, oracle[name])
            bound = oracle_bound(max(theirs, floor), example.dtype)
            detail = (
                f"norm-wise error vs float64 {error:.3g}; {example.config.kind.reference}'s {theirs:.3g}; rounding "
                f"floor of {terms} terms {floor:.3g}; allowed {bound:.3g}"
            )
        diff = difference(a, e if oracle is None else oracle[name].to(a.device, a.dtype))
        normalised = error / bound if math.isfinite(bound) else 0.0
        if not (error <= bound or math.isinf(bound)):
            measure = Measure(normalised, diff.max_abs, diff.eps_units)
            raise fail(
                example,
                f"gradient d/d{name} differs from {example.config.kind.reference}'s",
                detail,
                measure=measure,
            )
        worst = max(worst, Measure(normalised, diff.max_abs, diff.eps_units))
    return worst


@register(
    "gradcheck",
    "gradients",
    "tolerance",
    "numerics",
    dtypes=(torch.float64,),
    config={
        "input_size": sizes(max_value=3),
        "hidden_size": sizes(max_value=3),
        "num_layers": st.integers(1, 3),
    },
    draw={
        "with_h0": True,
        "batch": st.integers(1, 2),
        "seq_len": st.integers(1, 3),
    },
    levels={
        "input_size": (1, 2, 3),
        "hidden_size": (1, 2, 3),
        "num_layers": (1, 2, 3),
        "batch": (1, 2),
        "seq_len": (1, 3),
    },
)
def gradcheck(implementation: Implementation, example: Example) -> None:
    """gradcheck and gradgradcheck pass in float64 (input, h0 and parameters).

    Small sizes and ``fast_mode`` (a random projection of the Jacobian) keep it quick; batch 0
    is not drawn because gradcheck refuses zero-size inputs (``gradients`` covers it).
    """
    _, impl = build_pair(
        implementation, example.config, example.case, torch.float64, example.device
    )
    inputs = make_inputs(example.config, example.case, torch.float64, example.device, True)
    params = {n: p for n, p in impl.named_parameters()}
    names = list(params)
    assert inputs.h0 is not None  # drawn with_h0
    leaves = [inputs.padded, inputs.h0, *[p.detach().requires_grad_() for p in params.values()]]
    case, config = example.case, example.config

    def f(x: Tensor, h0: Tensor, *weights: Tensor):
        arg: Tensor | PackedSequence = x
        if case.packed:
            arg = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.tensor(case.lengths), config.batch_first, case.layout == "packed_sorted"
            )
        state = split_state(config, h0)
        result = torch.func.functional_call(impl, dict(zip(names, weights)), (arg, state))
        return as_tensors(result, config)

    for check in (torch.autograd.gradcheck, torch.autograd.gradgradcheck):
        try:
            check(
                f,
                tuple(leaves),
                eps=GRADCHECK_EPS,
                atol=GRADCHECK_ATOL,
                rtol=GRADCHECK_RTOL,
                fast_mode=True,
            )
        except Exception as exc:
            if isinstance(exc, PropertyFailure):
                raise
            raise fail(
                example, f"{check.__name__} failed", f"{type(exc).__name__}: {exc}"
            ) from None
    return None
