"""Cell properties: one step against nn.RNNCell, nn.GRUCell or nn.LSTMCell (for implementations of
the cell kinds). An LSTMCell's ``(h', c')`` is joined into one tensor
(:func:`~rnn_impl.testing.cases.join_state`), as its ``(h, c)`` is drawn."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

import hypothesis.strategies as st
import torch
from torch import Tensor, nn

from rnn_impl.testing.cases import join_state, make_cell_inputs, upstream_grads
from rnn_impl.testing.invalid_calls import ErrorSizes, cell_forward_cases
from rnn_impl.testing.oracle import (
    Implementation,
    Named,
    build_pair,
    grads_by_name,
    in_torch_layout,
)
from rnn_impl.testing.properties._core import (
    Measure,
    assert_exact,
    check_like,
    fail,
    fail_on_difference,
    judge_results,
    register,
    torch_own,
)
from rnn_impl.testing.sensitivity import Allowed, cell_sensitivity
from rnn_impl.testing.strategies import Example

CELL_CONFIG = {"num_layers": 1, "bidirectional": False, "batch_first": False}
CELL_DRAW = {"layout": st.sampled_from(["batched", "unbatched"])}
CELL_LEVELS = {"layout": ("batched", "unbatched"), "seq_len": (1,)}
"""A cell's covering levels: it takes one step of batched or unbatched input."""


def _step(module: nn.Module, example: Example, requires_grad: bool = False, **where):
    """One step of ``module`` on the example: ``(inputs, h')`` (an LSTMCell's joined)."""
    inputs = make_cell_inputs(
        example.config,
        example.case,
        where.get("dtype", example.dtype),
        where.get("device", example.device),
        requires_grad,
        where.get("precision"),
    )
    result = module(*inputs.args())
    return inputs, join_state(result) if example.config.kind.paired_state else result


def _name(example: Example) -> str:
    """What failures call the step's result: ``"h'"``, or an LSTMCell's ``"(h', c')"``."""
    return "(h', c')" if example.config.kind.paired_state else "h'"


def _cell(example: Example) -> str:
    """``"nn.LSTMCell"``, ...: the torch cell the failures name."""
    return example.config.kind.cell.reference


@register(
    "cell_output_exact",
    "cell",
    "exact",
    "drop-in",
    devices=("cpu",),
    draw=CELL_DRAW,
    config=CELL_CONFIG,
    levels=CELL_LEVELS,
    cells=True,
)
def cell_output_exact(implementation: Implementation, example: Example) -> Measure:
    """h' is bit-identical to nn.RNNCell's on CPU (h' and c': nn.LSTMCell's)."""
    reference, impl = build_pair(implementation, example.config, example.case, example.dtype)
    with torch.no_grad():
        _, expected = _step(reference, example)
        _, actual = _step(impl, example)
    return assert_exact(example, _name(example), actual, expected, _cell(example))


@register(
    "cell_output_close",
    "cell",
    "tolerance",
    "numerics",
    draw=CELL_DRAW,
    config=CELL_CONFIG,
    levels=CELL_LEVELS,
    cells=True,
)
def cell_output_close(implementation: Implementation, example: Example) -> Measure:
    """h' matches nn.RNNCell's within what rounding in any order allows on the example (the
    spread of perturbed float64 runs, :mod:`rnn_impl.testing.sensitivity`)."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    with torch.no_grad():
        _, actual = _step(impl, example)
        high = copy.deepcopy(reference).to("cpu", torch.float64)
        _, center = _step(high, example, dtype=torch.float64, device="cpu", precision=example.dtype)
        own = torch_own(example, lambda: {"state": _step(reference, example)[1]})
    allowed = Allowed(lambda: cell_sensitivity(reference, example))
    against = f"{_cell(example)}'s float64 result"
    return judge_results(
        example,
        {"state": actual},
        {"state": center},
        allowed,
        lambda _: _name(example),
        own,
        against,
    )


@register(
    "cell_gradients",
    "cell",
    "tolerance",
    "numerics",
    draw={**CELL_DRAW, "with_h0": True},
    config=CELL_CONFIG,
    levels=CELL_LEVELS,
    cells=True,
)
def cell_gradients(implementation: Implementation, example: Example) -> Measure:
    """Gradients of h' w.r.t. input, hidden state and parameters match nn.RNNCell's, each
    within what rounding in any order allows on the example."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    high = copy.deepcopy(reference).to("cpu", torch.float64)
    where = {"dtype": torch.float64, "device": "cpu", "precision": example.dtype}
    center = _gradients(high, dict(high.named_parameters()), example, **where)
    named = implementation.adapter.named_parameters(impl)
    actual = in_torch_layout(implementation.adapter, _gradients(impl, named, example))
    missing = sorted(set(center) - set(actual))
    if missing:
        raise fail(example, f"parameters missing from the implementation: {missing}")
    own = torch_own(
        example, lambda: _gradients(reference, dict(reference.named_parameters()), example)
    )
    allowed = Allowed(lambda: cell_sensitivity(reference, example, gradients=True))
    against = f"{_cell(example)}'s float64 result"
    what = _name(example)
    return judge_results(
        example, actual, center, allowed, lambda name: f"d {what}/d{name}", own, against
    )


def _gradients(
    module: nn.Module, named: Mapping[str, Named], example: Example, **where: Any
) -> dict[str, Tensor]:
    """Gradients of ``<g, h'>`` with respect to input, hx and ``named`` (an adapter's: a
    parameter in pieces gets theirs stacked; ``where`` as for :func:`_step`; the upstream
    gradient rounded alike)."""
    inputs, out = _step(module, example, requires_grad=True, **where)
    check_like(example, _name(example), out, out, f"{_cell(example)}'s")
    g, _ = upstream_grads(out, out, example.case, where.get("precision"))
    assert inputs.h0 is not None  # cell_gradients draws hx
    return grads_by_name((out * g).sum(), {"input": inputs.padded, "hx": inputs.h0, **named})


@register(
    "cell_errors",
    "cell",
    "contract",
    "drop-in",
    devices=("cpu",),
    dtypes=(torch.float32,),
    draw=CELL_DRAW,
    config=CELL_CONFIG,
    levels=CELL_LEVELS,
    cells=True,
)
def cell_errors(implementation: Implementation, example: Example) -> None:
    """Invalid cell inputs raise the exception type and message of nn.RNNCell (nn.GRUCell,
    nn.LSTMCell)."""
    c = example.config
    sizes = ErrorSizes(c.input_size, c.hidden_size, 1, 1, max(example.case.batch, 1))
    reference, impl = build_pair(implementation, c, example.case)
    pairs = {}
    for label, make in cell_forward_cases(c.kind.cell).items():
        args = make(sizes)
        pairs[f"'{label}'"] = (functools.partial(reference, *args), functools.partial(impl, *args))
    fail_on_difference(example, "invalid cell input", pairs, _cell(example))
