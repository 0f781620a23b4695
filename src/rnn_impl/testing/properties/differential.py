"""Differential properties: the implementation against nn.RNN on the same weights and input."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import hypothesis.strategies as st
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.cases import make_inputs, split_state, upstream_grads
from rnn_impl.testing.oracle import (
    Implementation,
    Named,
    as_tensors,
    build_pair,
    grads_by_name,
    in_torch_layout,
)
from rnn_impl.testing.properties._core import (
    ZERO,
    Measure,
    PropertyFailure,
    assert_exact_results,
    data,
    fail,
    forward,
    judge_results,
    on_routes,
    register,
    torch_own,
)
from rnn_impl.testing.sensitivity import Allowed, module_sensitivity
from rnn_impl.testing.strategies import Example, sizes
from rnn_impl.testing.tolerances import GRADCHECK_ATOL, GRADCHECK_EPS, GRADCHECK_RTOL


def run(module: nn.Module, example: Example, requires_grad: bool = False, **where):
    """Forward one example: ``(inputs, output, h_n)`` (a packed output gives its data, an
    LSTM's state is joined); ``where`` may give ``dtype``, ``device`` and the ``precision``
    the inputs are rounded to first."""
    inputs = make_inputs(
        example.config,
        example.case,
        where.get("dtype", example.dtype),
        where.get("device", example.device),
        requires_grad=requires_grad,
        precision=where.get("precision"),
    )
    output, h_n = forward(example, module, *inputs.args())
    return inputs, data(output), h_n


def in_float64(reference: nn.Module) -> nn.Module:
    """torch's module in float64 on the CPU, with the reference's (already rounded) weights."""
    return copy.deepcopy(reference).to("cpu", torch.float64)


CENTER: dict[str, Any] = {"dtype": torch.float64, "device": "cpu"}
"""Where torch's result that a tolerance judges against runs: float64 on the CPU, from the
inputs the implementation is given (``precision``: rounded to its dtype first)."""


@register("output_exact", "differential", "exact", "drop-in", devices=("cpu",), long_sequences=True)
def output_exact(implementation: Implementation, example: Example) -> Measure:
    """output and h_n are bit-identical to nn.RNN's on CPU (torch.equal); for nn.LSTM, on
    one of its CPU routes (oneDNN's, or ATen's native one), both run there."""
    reference, impl = build_pair(implementation, example.config, example.case, example.dtype)
    with torch.no_grad():
        runs = on_routes(
            example, lambda: run(impl, example)[1:], lambda: run(reference, example)[1:]
        )
    return assert_exact_results(example, ("output", example.config.kind.state_name), runs)


def compare_outputs(example: Example, reference: nn.Module, impl: Any, where: str = "") -> Measure:
    """Run both on the example and judge the implementation's output and final state against
    torch's module in float64 on the same rounded inputs and weights, within what rounding
    allows on this example (:mod:`rnn_impl.testing.sensitivity`); torch's own bits in the
    tested dtype hold without judging (:func:`~rnn_impl.testing.properties._core.
    judge_results`). ``where`` follows their names in a failure (``" (compiled)"``). Returns
    the measure."""
    with torch.no_grad():
        _, out_a, h_a = run(impl, example)
        high = in_float64(reference).train(reference.training)
        _, out_c, h_c = run(high, example, precision=example.dtype, **CENTER)
        own = torch_own(
            example, lambda: dict(zip(("output", "state"), run(reference, example)[1:]))
        )
    allowed = Allowed(lambda: module_sensitivity(reference, example, training=reference.training))
    labels = {"output": "output", "state": example.config.kind.state_name}
    return judge_results(
        example,
        {"output": out_a, "state": h_a},
        {"output": out_c, "state": h_c},
        allowed,
        lambda name: f"{labels[name]}{where}",
        own,
    )


@register("output_close", "differential", "tolerance", "numerics", long_sequences=True)
def output_close(implementation: Implementation, example: Example) -> Measure:
    """output and h_n match torch's within what rounding in any order allows on the example
    (the spread of perturbed float64 runs, :mod:`rnn_impl.testing.sensitivity`)."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    return compare_outputs(example, reference, impl)


AUTOCAST_DTYPES = (torch.bfloat16, torch.float16)


@register(
    "autocast",
    "differential",
    "exact",
    "drop-in",
    devices=("cpu",),
    dtypes=(torch.float32,),
    long_sequences=True,
)
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


def gradients(module: nn.Module, names: Mapping[str, Named], example: Example, **where):
    """Gradients of ``<g_out, output> + <g_h, h_n>`` with respect to input, h0 (where the
    example passes one) and ``names`` (an adapter's: a parameter in pieces gets theirs
    stacked; ``where`` as for :func:`run`; the upstream gradients rounded alike)."""
    inputs, output, h_n = run(module, example, requires_grad=True, **where)
    g_out, g_h = upstream_grads(output, h_n, example.case, where.get("precision"))
    loss = (output * g_out).sum() + (h_n * g_h).sum()
    state = {} if inputs.h0 is None else {"h0": inputs.h0}
    return grads_by_name(loss, {"input": inputs.padded, **state, **names})


@register(
    "gradients", "gradients", "tolerance", "numerics", draw={"with_h0": True}, long_sequences=True
)
def gradients_close(implementation: Implementation, example: Example) -> Measure:
    """d(output, h_n) w.r.t. input, h0 (drawn wherever the implementation takes one) and
    every named parameter match torch's, each within what rounding in any order allows on
    the example: the spread of perturbed float64 runs, and for a weight the bound of its sum
    over every step and batch row (:mod:`rnn_impl.testing.sensitivity`)."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    return compare_gradients(example, implementation, reference, impl)


def compare_gradients(
    example: Example,
    implementation: Implementation,
    reference: nn.Module,
    impl: nn.Module,
    runs: Any = None,
    where: str = "",
) -> Measure:
    """Gradients of the implementation ``impl`` (called as ``runs``: by default ``impl``
    itself, else ``impl`` compiled) with respect to input, h0 and every named parameter,
    each judged against torch's module in float64 within what rounding allows on the
    example, as :func:`compare_outputs` judges outputs (``where`` as there). Returns the
    measure."""
    expected_names = dict(reference.named_parameters())
    actual_names = implementation.adapter.named_parameters(impl)
    missing = sorted(set(expected_names) - set(actual_names))
    if missing:
        raise fail(example, f"parameters missing from the implementation: {missing}")
    leaves = {n: actual_names[n] for n in expected_names}
    actual = gradients(impl if runs is None else runs, leaves, example)
    actual = in_torch_layout(implementation.adapter, actual)
    high = in_float64(reference)
    center = gradients(
        high, dict(high.named_parameters()), example, precision=example.dtype, **CENTER
    )
    own = torch_own(
        example, lambda: gradients(reference, dict(reference.named_parameters()), example)
    )
    allowed = Allowed(lambda: module_sensitivity(reference, example, gradients=True))
    return judge_results(
        example, actual, center, allowed, lambda name: f"gradient d/d{name}{where}", own
    )


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
    holds=("num_layers",),
    levels={
        "input_size": (1, 2, 3),
        "hidden_size": (1, 2, 3),
        "num_layers": (1, 2, 3),
        "batch": (1, 2),
        "seq_len": (1, 3),
    },
)
def gradcheck(implementation: Implementation, example: Example) -> None:
    """gradcheck and gradgradcheck pass in float64 (input, h0 where the implementation takes
    one, and parameters).

    Small sizes and ``fast_mode`` (a random projection of the Jacobian) keep it quick; batch 0
    is not drawn because gradcheck refuses zero-size inputs (``gradients`` covers it).
    """
    _, impl = build_pair(
        implementation, example.config, example.case, torch.float64, example.device
    )
    inputs = make_inputs(example.config, example.case, torch.float64, example.device, True)
    params = {n: p for n, p in impl.named_parameters()}
    names = list(params)
    state = [] if inputs.h0 is None else [inputs.h0]
    weights = [p.detach().requires_grad_() for p in params.values()]
    case, config = example.case, example.config

    def f(x: Tensor, *leaves: Tensor):
        arg: Tensor | PackedSequence = x
        if case.packed:
            arg = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.tensor(case.lengths), config.batch_first, case.layout == "packed_sorted"
            )
        args = (arg, *[split_state(config, h0) for h0 in leaves[: len(state)]])
        values = dict(zip(names, leaves[len(state) :]))
        return as_tensors(torch.func.functional_call(impl, values, args), config)

    for check in (torch.autograd.gradcheck, torch.autograd.gradgradcheck):
        try:
            check(
                f,
                (inputs.padded, *state, *weights),
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
