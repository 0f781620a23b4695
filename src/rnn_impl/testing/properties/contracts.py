"""Shape, dtype and device contracts, and error parity with nn.RNN."""

from __future__ import annotations

import functools
import random
from typing import Any

import hypothesis.strategies as st
import torch
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.cases import make_inputs
from rnn_impl.testing.invalid_calls import ErrorSizes, constructor_cases, forward_cases
from rnn_impl.testing.oracle import Implementation, build_pair, error_route
from rnn_impl.testing.properties._core import call, fail, fail_on_difference, register
from rnn_impl.testing.strategies import Example, sizes


def _same_index(x: torch.Tensor | None, y: torch.Tensor | None) -> bool:
    """Equal index tensors (on meta, where there are no values, equal shapes)."""
    if x is None or y is None:
        return x is None and y is None
    if "meta" in (x.device.type, y.device.type):
        return x.shape == y.shape and x.device == y.device
    return torch.equal(x.cpu(), y.cpu())


def _shape_contract(implementation: Implementation, example: Example) -> None:
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    config = example.config
    args = make_inputs(config, example.case, example.dtype, example.device).args()
    states = _parts(config, args[1]) if len(args) == 2 else []
    before = [(name, h.clone()) for name, h in states]
    with torch.no_grad():
        expected = reference(*args)
        actual = call(example, impl, *args)
    for (name, kept), (_, now) in zip(before, states):
        if example.device != "meta" and not torch.equal(kept, now):
            raise fail(
                example,
                f"the caller's {name} was modified in place ({config.kind.reference} never writes "
                "to it)",
            )
    if not (isinstance(actual, tuple) and len(actual) == 2):
        returned = type(actual).__name__
        raise fail(example, f"forward returned {returned}, not (output, {config.kind.state_name})")
    if config.kind.paired_state and not (isinstance(actual[1], tuple) and len(actual[1]) == 2):
        returned = type(actual[1]).__name__
        raise fail(example, f"the state returned is a {returned}, nn.LSTM's is a pair (h_n, c_n)")
    names = ("output", "h_n", "c_n")
    for what, a, e in zip(names, _flat(config, actual), _flat(config, expected)):
        if isinstance(e, PackedSequence):
            if not isinstance(a, PackedSequence):
                raise fail(
                    example,
                    f"{what} is a {type(a).__name__}, {example.config.kind.reference} returns a PackedSequence",
                )
            for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
                x, y = getattr(a, name), getattr(e, name)
                if not _same_index(x, y):
                    raise fail(
                        example, f"{what}.{name} is {x}, {example.config.kind.reference}'s is {y}"
                    )
            a, e = a.data, e.data
        if not isinstance(a, torch.Tensor):
            raise fail(
                example,
                f"{what} is a {type(a).__name__}, {example.config.kind.reference} returns a Tensor",
            )
        got = (tuple(a.shape), a.dtype, a.device.type)
        want = (tuple(e.shape), e.dtype, e.device.type)
        if got != want:
            raise fail(
                example,
                f"{what} is {got} (shape, dtype, device), {example.config.kind.reference}'s is {want}",
            )


def _parts(config, state) -> list[tuple[str, torch.Tensor]]:
    """A state argument by name: ``[("h0", h0)]``, or an LSTM's ``[("h0", h0), ("c0", c0)]``."""
    return list(zip(("h0", "c0"), state)) if config.kind.paired_state else [("h0", state)]


def _flat(config, result: tuple[Any, Any]) -> list[Any]:
    """``[output, h_n]``, or an LSTM's ``[output, h_n, c_n]``."""
    output, state = result
    return [output, *state] if config.kind.paired_state else [output, state]


@register("shapes", "contracts", "contract", "behaviour")
def shapes(implementation: Implementation, example: Example) -> None:
    """output and h_n (c_n) have nn.RNN's type, shape, dtype and device; h0 is not written."""
    _shape_contract(implementation, example)


@register(
    "shapes_large_meta",
    "contracts",
    "contract",
    "drop-in",
    devices=("meta",),
    config={"input_size": sizes(max_value=1024), "hidden_size": sizes(max_value=1024)},
    draw={
        # on meta every step runs Python shape functions: long sequences cost time and test
        # nothing the small-width properties (long sequences in output_close) do not
        "seq_len": st.integers(1, 8),
        "batch": st.integers(1, 512),
        "budget": 10**12,
    },
    # its covering rows reach every level; a few draws beyond them, each a meta forward of
    # Python shape functions for every step and layer
    examples=10,
    levels={
        "input_size": (1, 1021),
        "hidden_size": (1, 1024),
        "seq_len": (1, 8),
        "batch": (1, 512),
    },
)
def shapes_large_meta(implementation: Implementation, example: Example) -> None:
    """On the meta device, large sizes give nn.RNN's shapes without computing anything."""
    _shape_contract(implementation, example)


BAD_VALUES: dict[str, list[Any]] = {
    "input_size": [0, -3, 2.5, "4", None, 1j],
    "hidden_size": [0, -1, 3.0, "8", None],
    "num_layers": [0, -2, 1.5, "2", None],
    "nonlinearity": ["sigmoid", "TANH", None, 3],
    "bias": [1, 0, "yes", None],
    "batch_first": [1, "no", None],
    "dropout": [-0.5, 1.01, float("nan"), True, "0.1", None],
    "proj_size": [-1, 10**6, 1.5, "2", None],
}
"""Wrong values per argument; :func:`constructor_errors` plants some into a valid config."""


@register(
    "constructor_errors", "errors", "contract", "drop-in", devices=("cpu",), dtypes=(torch.float32,)
)
def constructor_errors(implementation: Implementation, example: Example) -> None:
    """Invalid constructor arguments raise nn.RNN's exception type and message (and warnings).

    Planted into the configuration's own arguments: ``proj_size`` only for nn.LSTM, whose
    constructor takes it (nn.RNN and nn.GRU refuse every ``proj_size`` but 0 alike)."""
    rng = random.Random(example.case.seed)
    kwargs = example.config.kwargs()
    planted = rng.sample(sorted(n for n in BAD_VALUES if n in kwargs), k=rng.randint(1, 3))
    for name in planted:
        kwargs[name] = rng.choice(BAD_VALUES[name])
    calls = {f"generated: planted {planted}": ((), kwargs)}
    calls[f"generated positional: planted {planted}"] = (tuple(kwargs.values()), {})
    calls.update(constructor_cases(example.config.kind))
    pairs = {
        f"'{label}': {example.config.kind.torch_name}(*{args!r}, **{kw!r})": (
            functools.partial(example.config.kind.torch_class(), *args, **kw),
            functools.partial(implementation.factory, *args, **kw),
        )
        for label, (args, kw) in calls.items()
    }
    fail_on_difference(example, "constructor call", pairs)


@register(
    "forward_errors", "errors", "contract", "drop-in", devices=("cpu",), dtypes=(torch.float32,)
)
def forward_errors(implementation: Implementation, example: Example) -> None:
    """Invalid forward inputs raise nn.RNN's exception type and message, checked in its order.

    nn.LSTM's are those of ATen's native route, and the implementation runs there too
    (:func:`~rnn_impl.testing.oracle.error_route`)."""
    config, case = example.config, example.case
    sizes_ = ErrorSizes(
        config.input_size,
        config.hidden_size,
        config.num_layers,
        case.seq_len,
        max(case.batch, 1),
        config.bidirectional,
        config.batch_first,
        config.proj_size,
    )
    config = sizes_.config(nonlinearity=config.nonlinearity, bias=config.bias, family=config.family)
    reference, impl = build_pair(implementation, config, case)
    pairs = {}
    for label, make in forward_cases(config.kind).items():
        args = make(sizes_)
        pairs[f"'{label}'"] = (functools.partial(reference, *args), functools.partial(impl, *args))
    with error_route(config):
        fail_on_difference(example, "invalid input", pairs)
