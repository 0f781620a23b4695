"""Fault localisation for a black box: where an implementation first departs from nn.RNN on a
failing example, and which of its settings the failure needs.

:func:`departures` runs nn.RNN and the implementation forward on the example and says where
they first differ: the time step and batch row of the output (for packed input, the
sequence), the layers and directions of ``h_n``, and which single-layer, single-direction
sub-model (the same weights, built through the adapter) already differs on its own.
:func:`suspects` reruns the failing property with one setting of the example changed at a
time (bias off, one layer, one direction, tanh, ...) and names those whose change makes it pass.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from typing import Any

import hypothesis.strategies as st
import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.cases import InputCase, join_state, make_inputs
from rnn_impl.testing.devices import dtype_name
from rnn_impl.testing.oracle import (
    Implementation,
    build_from,
    build_pair,
    by_gate_names,
    in_torch_layout,
    sub_reference,
)
from rnn_impl.testing.properties import Property
from rnn_impl.testing.sensitivity import module_sensitivity
from rnn_impl.testing.strategies import Example
from rnn_impl.testing.tolerances import departing, judge, normwise_rel

DIRECTIONS = ("forward", "reverse")


LOCATED_CATEGORIES = ("differential", "gradients", "contracts", "dropout", "laws")
"""The categories whose failures concern results (errors, API and cell failures are not
located)."""


class Rule:
    """How the property that failed compares results, and so how localisation does: bit for
    bit against torch's module in the example's dtype (an exact property), or within what
    rounding allows on the example against torch's module in float64 (every other:
    :func:`~rnn_impl.testing.tolerances.departing`). A correct implementation that sums in
    another order is never said to depart under a tolerance."""

    def __init__(self, exact: bool) -> None:
        self.exact = exact

    def expected(self, reference: torch.nn.Module, example: Example) -> tuple[Any, Tensor, Any]:
        """torch's result on the example as this rule compares with it: ``(output (packed,
        as it comes), state (joined), bounds)``; ``bounds`` maps ``output`` and ``state`` to
        their ``(spread, floor)``, or is None bit for bit."""
        if self.exact:
            inputs = make_inputs(example.config, example.case, example.dtype, example.device)
            output, state = _seeded(reference, inputs, example.case.seed)
            return output, join_state(state), None
        high = copy.deepcopy(reference).to("cpu", torch.float64).train(reference.training)
        inputs = make_inputs(
            example.config, example.case, torch.float64, "cpu", precision=example.dtype
        )
        output, state = _seeded(high, inputs, example.case.seed)
        found = module_sensitivity(reference, example, training=reference.training)
        bounds = {name: (found.spread[name], found.floor[name]) for name in found.spread}
        return output, join_state(state), bounds

    def mask(self, actual: Tensor, expected: Tensor, bounds: Any, name: str, dtype: Any) -> Tensor:
        """Where ``actual`` departs from ``expected`` under this rule."""
        if bounds is None:
            return _bit_mask(actual, expected)
        spread, floor = bounds[name]
        return departing(actual.cpu(), expected.cpu(), spread, floor, dtype)


def departures(
    implementation: Implementation,
    example: Example,
    gradients: bool = False,
    rule: Rule | None = None,
) -> list[str]:
    """Where the implementation's forward first departs from torch's on ``example`` under
    ``rule`` (by default bit for bit); with ``gradients``, where the forward agrees, which
    gradients depart most. Empty when nothing departs."""
    if implementation.is_cell or example.device == "meta":
        return []
    rule = rule or Rule(exact=True)
    config = example.config
    reference, impl = build_pair(
        implementation, config, example.case, example.dtype, example.device
    )
    inputs = make_inputs(config, example.case, example.dtype, example.device)
    with torch.no_grad():
        out_e, state_e, bounds = rule.expected(reference, example)
        try:
            out_a, h_n = _seeded(impl, inputs, example.case.seed)
        except Exception as exc:
            return [f"its forward call fails: {type(exc).__name__}: {exc}"]
    h_n = join_state(h_n)
    lines = []
    if isinstance(out_e, PackedSequence) != isinstance(out_a, PackedSequence):
        theirs = config.kind.reference
        return [f"output is a {type(out_a).__name__}, {theirs}'s a {type(out_e).__name__}"]
    data_e = out_e.data if isinstance(out_e, PackedSequence) else out_e
    data_a = out_a.data if isinstance(out_a, PackedSequence) else out_a
    if not isinstance(data_a, Tensor) or data_a.shape != data_e.shape:
        shape = getattr(data_a, "shape", None)
        return [f"output has shape {shape}, {config.kind.reference}'s {data_e.shape}"]
    found = rule.mask(data_a, data_e, bounds, "output", example.dtype).nonzero()
    if len(found):
        lines.append("output first differs " + _output_place(found, out_e, example))
        order = _gate_order(implementation, reference, example, rule, (data_e, bounds))
        if order is not None:
            lines.append(order)
    if isinstance(h_n, Tensor) and h_n.shape == state_e.shape:
        mask = rule.mask(h_n, state_e, bounds, "state", example.dtype)
        rows = [r for r in range(mask.size(0)) if bool(mask[r].any())]
        if rows:
            names = [
                f"layer {r // config.num_directions} {DIRECTIONS[r % config.num_directions]}"
                for r in rows
            ]
            lines.append(f"{config.kind.state_name} differs for " + ", ".join(names))
    if lines and (config.num_layers > 1 or config.bidirectional):
        lines.append(_sub_models(implementation, reference, example, rule))
    if lines or not gradients:
        return lines
    return _gradient_departures(implementation, example, rule)


def _gate_order(
    implementation: Implementation,
    reference: torch.nn.Module,
    example: Example,
    rule: Rule,
    expected: tuple[Tensor, Any],
) -> str | None:
    """Whether the implementation agrees with torch's ``expected`` output (and its bounds,
    under ``rule``) once the gate blocks of every weight and bias it is given are reordered:
    then it reads its blocks in that order, and the words say which. None when no order
    agrees."""
    data_e, bounds = expected
    names = example.config.kind.gates
    if not names:
        return None
    inputs = make_inputs(example.config, example.case, example.dtype, example.device)
    for order in itertools.permutations(range(len(names))):
        if order == tuple(range(len(names))):
            continue
        permuted = copy.deepcopy(reference)
        with torch.no_grad():
            for name, weight in permuted.named_parameters():
                if not name.startswith("weight_hr"):
                    blocks = weight.detach().chunk(len(names), 0)
                    weight.copy_(torch.cat([blocks[k] for k in order], 0))
        try:
            with torch.no_grad():
                model = build_from(implementation, permuted)
                output = _seeded(model, inputs, example.case.seed)[0]
        except Exception:
            continue
        data = output.data if isinstance(output, PackedSequence) else output
        if isinstance(data, Tensor) and data.shape == data_e.shape:
            if not bool(rule.mask(data, data_e, bounds, "output", example.dtype).any()):
                theirs = ", ".join(names)
                read = [names[k] for k in order]
                ours = ", ".join(read)
                if implementation.adapter_name:
                    fix = "its adapter's load() places them so"
                elif by_gate_names(model):
                    fix = "check the gates its parameters' names give (the mapping printed)"
                else:
                    fix = f"--gate-order {''.join(read)}"
                return (
                    f"given its gate blocks reordered to ({ours}) it agrees with "
                    f"{example.config.kind.reference}: it reads them in that order, torch's is "
                    f"({theirs}); if that is its layout, {fix}"
                )
    return None


def _gradient_departures(implementation: Implementation, example: Example, rule: Rule) -> list[str]:
    """Where the forward agrees: which gradients depart from torch's under ``rule``, worst
    first (norm-wise relative difference bit for bit; times what rounding allows
    otherwise)."""
    from rnn_impl.testing.properties.differential import CENTER, gradients, in_float64

    example = dataclasses.replace(example, case=dataclasses.replace(example.case, with_h0=True))
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    expected_names = dict(reference.named_parameters())
    actual_names = implementation.adapter.named_parameters(impl)
    if set(expected_names) - set(actual_names):
        return []
    actual = gradients(impl, {n: actual_names[n] for n in expected_names}, example)
    actual = in_torch_layout(implementation.adapter, actual)
    if rule.exact:
        expected = gradients(reference, expected_names, example)
        errors = [(normwise_rel(actual[n], e), n) for n, e in expected.items()]
        unit = ""
    else:
        high = in_float64(reference)
        expected = gradients(
            high, dict(high.named_parameters()), example, precision=example.dtype, **CENTER
        )
        found = module_sensitivity(reference, example, gradients=True)
        errors = [
            (judge(actual[n], e, found.spread[n], found.floor[n], example.dtype).normalised, n)
            for n, e in expected.items()
            if actual[n].shape == e.shape
        ]
        unit = "x allowed"
    limit = 0.0 if rule.exact else 1.0
    differing = [
        f"d/d{name} ({error:.2g}{unit})"
        for error, name in sorted(errors, reverse=True)
        if error > limit
    ][:4]
    if not differing:
        return []
    return ["forward results agree; gradients differ most: " + ", ".join(differing)]


def _seeded(module: torch.nn.Module, inputs: Any, seed: int) -> Any:
    """``module`` on the inputs with the global RNG seeded, then restored (so that both draw
    the same dropout masks, as the dropout properties arrange)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return module(*inputs.args())


def _bit_mask(actual: Tensor, expected: Tensor) -> Tensor:
    a, e = actual.detach().cpu(), expected.detach().cpu()
    return (a != e) & ~(a.isnan() & e.isnan())


def _output_place(found: Tensor, reference_output: Any, example: Example) -> str:
    """Words for the earliest differing step of the output: step, batch row or sequence,
    and the direction whose features differ."""
    config, case = example.config, example.case
    if isinstance(reference_output, PackedSequence):
        row, step = int(found[0, 0]), 0  # packed data is time-major: its first row is earliest
        sizes = reference_output.batch_sizes.tolist()
        while row >= sizes[step]:
            row -= sizes[step]
            step += 1
        order = reference_output.sorted_indices
        sequence = int(order[row]) if order is not None else row
        where, first = f"at step {step} of sequence {sequence}", found[0]
    elif not case.batched:
        where, first = f"at step {int(found[0, 0])}", found[0]
    else:
        step_dim, row_dim = (1, 0) if config.batch_first else (0, 1)
        key = found[:, step_dim] * (int(found[:, row_dim].max()) + 1) + found[:, row_dim]
        first = found[int(key.argmin())]
        where = f"at step {int(first[step_dim])}, batch row {int(first[row_dim])}"
    if config.bidirectional:
        where += f" ({DIRECTIONS[int(first[-1]) // config.output_size]} direction's features)"
    return where


def _sub_models(
    implementation: Implementation, reference: torch.nn.Module, example: Example, rule: Rule
) -> str:
    """Each layer and direction alone, as a one-layer unidirectional model with its weights,
    on an input of its own (batched, from zeros): which already departs from torch's under
    ``rule``."""
    config = example.config
    kinds = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if config.bias else [])
    kinds += ["weight_hr"] if config.proj_size else []
    case = example.case
    own = InputCase(
        "batched",
        case.seq_len,
        max(case.batch, 1) if case.batched else 1,
        with_h0=False,
        seed=case.seed + 1,
        input_scale=case.input_scale,
        weight_scale=case.weight_scale,
    )
    alone = []
    for layer in range(config.num_layers):
        for direction in range(config.num_directions):
            width = config.input_size if layer == 0 else config.output_size * config.num_directions
            sub = dataclasses.replace(
                config,
                input_size=width,
                num_layers=1,
                bidirectional=False,
                dropout=0.0,
                batch_first=False,
            )
            suffix = "_reverse" if direction else ""
            rename = {f"{k}_l0": f"{k}_l{layer}{suffix}" for k in kinds}
            try:
                ref_sub = sub_reference(reference, sub, rename)
                impl_sub = build_from(implementation, ref_sub, sub)
                where = Example(sub, own, example.device, example.dtype)
                x = make_inputs(sub, own, example.dtype, example.device).input
                with torch.no_grad():
                    expected, _, bounds = rule.expected(ref_sub, where)
                    actual = impl_sub(x)[0]
                same = not bool(rule.mask(actual, expected, bounds, "output", example.dtype).any())
            except Exception as exc:
                return f"single-layer sub-models could not be compared: {type(exc).__name__}: {exc}"
            if not same:
                alone.append(f"layer {layer} {DIRECTIONS[direction]}")
    if not alone:
        return (
            "each layer and direction's weights alone (in a one-layer, forward-only model) "
            "agree: the difference is in how layers and directions are combined, the reverse "
            "pass included"
        )
    return "alone (in a one-layer, forward-only model), already differs: " + ", ".join(alone)


SETTINGS: tuple[tuple[str, Any], ...] = (
    ("bias", False),
    ("num_layers", 1),
    ("bidirectional", False),
    ("nonlinearity", "tanh"),
    ("proj_size", 0),
    ("batch_first", False),
    ("dropout", 0.0),
    ("with_h0", False),
    ("seq_len", 1),
    ("batch", 1),
    ("layout", "batched"),
)
"""The counterfactuals :func:`suspects` tries, one at a time: each a simpler setting."""


def suspects(prop: Property, implementation: Implementation, example: Example) -> list[str]:
    """The settings of ``example`` whose change, alone, makes ``prop`` hold, each with the
    value it passes with: ``"bias=True (passes with False)"``. A setting already at its simple
    value, or that the property fixes, is not tried."""
    found = []
    for name, simple in SETTINGS:
        own = {**prop.config, **prop.draw}.get(name)
        if own is not None and not isinstance(own, st.SearchStrategy):
            continue
        changed = _with(example, name, simple)
        if changed is None or _holds(prop, implementation, changed) is not True:
            continue
        found.append(f"{name}={_value(example, name)!r} (passes with {simple!r})")
    return found


def _value(example: Example, name: str) -> Any:
    source = example.config if hasattr(example.config, name) else example.case
    return getattr(source, name)


def _with(example: Example, name: str, simple: Any) -> Example | None:
    """``example`` with one setting changed, or None where it already has that value or the
    change would make an invalid case."""
    if _value(example, name) == simple:
        return None
    config, case = example.config, example.case
    if hasattr(config, name):
        config = dataclasses.replace(config, **{name: simple})
    elif name == "seq_len":
        lengths = None if case.lengths is None else tuple(min(n, simple) for n in case.lengths)
        case = dataclasses.replace(case, seq_len=simple, lengths=lengths)
    elif name == "batch":
        if not case.batched:
            return None
        lengths = None if case.lengths is None else case.lengths[:simple]
        case = dataclasses.replace(case, batch=simple, lengths=lengths)
    elif name == "layout":
        case = dataclasses.replace(
            case, layout=simple, lengths=None, batch=case.batch if case.batched else 1
        )
    else:
        case = dataclasses.replace(case, **{name: simple})
    return Example(config, InputCase(**dataclasses.asdict(case)), example.device, example.dtype)


def _holds(prop: Property, implementation: Implementation, example: Example) -> bool | None:
    """Whether ``prop`` holds on ``example`` (None: the example cannot be run at all)."""
    try:
        prop.check(implementation, example)
    except AssertionError:
        return False
    except Exception:
        return None
    return True


def describe(
    prop: Property, implementation: Implementation, example: Example
) -> dict[str, list[str]]:
    """Both, for a report: ``{"departs": [...], "suspects": [...]}`` (a line saying why, if
    either cannot be worked out)."""
    result: dict[str, list[str]] = {"departs": [], "suspects": []}
    if prop.category not in LOCATED_CATEGORIES:
        return result
    for key, work in (
        (
            "departs",
            lambda: departures(
                implementation, example, prop.category == "gradients", Rule(prop.exact)
            ),
        ),
        ("suspects", lambda: suspects(prop, implementation, example)),
    ):
        try:
            result[key] = work()
        except Exception as exc:
            result[key] = [f"could not be worked out: {type(exc).__name__}: {exc}"]
    return result


__all__ = ["Rule", "departures", "describe", "dtype_name", "suspects"]
