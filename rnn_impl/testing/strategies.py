"""Public Hypothesis strategies for RNN configurations, inputs, devices and dtypes.

Every argument is a plain value or a strategy (``sizes(max_value=4)`` and ``st.just(4)`` both
work). Strategies draw small descriptions (:class:`~rnn_impl.testing.cases.RNNConfig`,
:class:`~rnn_impl.testing.cases.InputCase`), never tensors: tensors are made afterwards from
the drawn seed through a ``torch.Generator``, which is fast, reproducible and shrinks to seed 0.
The global torch RNG is never touched. Importing this module does not initialise CUDA.

Independent draws rarely produce the coincidences that hide bugs (a transposed weight is
shape-valid only when ``input_size == hidden_size``; a missing transpose is invisible when
``batch == seq_len``), so :func:`rnn_configs` and :func:`input_cases` force them now and then
and label each with ``hypothesis.event``.

The size budget ``$RNN_IMPL_SIZE_BUDGET`` (default 4096) caps
``seq_len * batch * max(input_size, hidden_size) * num_layers * directions`` so draws stay fast.

Requires the hypothesis package (``pip install rnn-impl[verify]``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar, Union

import hypothesis.strategies as st
import torch
from hypothesis import event

from rnn_impl.testing import devices as _devices
from rnn_impl.testing.cases import LAYOUTS, InputCase, RNNConfig

__all__ = [
    "Example",
    "size_budget",
    "sizes",
    "rnn_configs",
    "input_cases",
    "devices",
    "dtypes",
    "weight_scales",
    "examples",
]

T = TypeVar("T")
MaybeStrategy = Union[T, st.SearchStrategy[T]]  # noqa: UP007 (a generic alias; mypy rejects T | ...)

BUDGET_ENV = "RNN_IMPL_SIZE_BUDGET"
DEFAULT_BUDGET = 4096
LOW_PRECISION = (torch.float16, torch.bfloat16)


def size_budget() -> int:
    """``$RNN_IMPL_SIZE_BUDGET`` or 4096: the most ``T*B*max(I,H)*L*D`` a draw may reach."""
    return int(os.environ.get(BUDGET_ENV, DEFAULT_BUDGET))


def _strategy(value: MaybeStrategy[Any]) -> st.SearchStrategy[Any]:
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def _sometimes(draw: st.DrawFn, label: str, chance: int = 4) -> bool:
    """True about once in ``chance`` draws (and then labelled), biased towards False on shrink."""
    hit = draw(st.integers(0, chance - 1)) == chance - 1
    if hit:
        event(f"coincidence: {label}")
    return hit


def _one_of(draw: st.DrawFn, labels: list[str], share: int = 3) -> str | None:
    """One of ``labels`` in about one draw in ``share`` (each equally likely, and then
    labelled), else None: forced coincidences stay a bounded share of the examples. Shrinks
    towards None."""
    pick = draw(st.integers(0, share * len(labels) - 1)) - (share - 1) * len(labels)
    if pick < 0:
        return None
    event(f"coincidence: {labels[pick]}")
    return labels[pick]


def sizes(*, min_value: int = 1, max_value: int = 8) -> st.SearchStrategy[int]:
    """Feature sizes (input_size, hidden_size)."""
    return st.integers(min_value, max_value)


@dataclass(frozen=True)
class Example:
    """One drawn example: configuration, input and where it runs."""

    config: RNNConfig
    case: InputCase
    device: str
    dtype: torch.dtype

    def __str__(self) -> str:
        return (
            f"{self.config} on {self.device}/{str(self.dtype).removeprefix('torch.')}, {self.case}"
        )


@st.composite
def rnn_configs(
    draw: st.DrawFn,
    *,
    input_size: MaybeStrategy[int] = sizes(),
    hidden_size: MaybeStrategy[int] = sizes(),
    num_layers: MaybeStrategy[int] = st.integers(1, 4),
    nonlinearity: MaybeStrategy[str] = st.sampled_from(["tanh", "relu"]),
    bias: MaybeStrategy[bool] = st.booleans(),
    batch_first: MaybeStrategy[bool] = st.booleans(),
    dropout: MaybeStrategy[float] = 0.0,
    bidirectional: MaybeStrategy[bool] = st.booleans(),
    coincidences: bool = True,
) -> RNNConfig:
    """nn.RNN constructor arguments.

    With ``coincidences``, arguments left to be drawn (given as strategies) sometimes coincide:
    ``input_size == hidden_size``, and ``num_layers >= 3`` with ``bidirectional``.
    """
    drawn = {
        name: isinstance(value, st.SearchStrategy)
        for name, value in (
            ("sizes", input_size),
            ("layers", num_layers),
            ("bidirectional", bidirectional),
        )
    }
    hidden = draw(_strategy(hidden_size))
    features = draw(_strategy(input_size))
    if coincidences and drawn["sizes"] and _sometimes(draw, "input_size == hidden_size"):
        features = hidden
    layers = draw(_strategy(num_layers))
    bidir = draw(_strategy(bidirectional))
    deep = coincidences and drawn["layers"] and drawn["bidirectional"]
    if deep and _sometimes(draw, "num_layers >= 3 and bidirectional"):
        layers, bidir = max(layers, 3), True
    return RNNConfig(
        input_size=features,
        hidden_size=hidden,
        num_layers=layers,
        nonlinearity=draw(_strategy(nonlinearity)),
        bias=draw(_strategy(bias)),
        batch_first=draw(_strategy(batch_first)),
        dropout=draw(_strategy(dropout)),
        bidirectional=bidir,
    )


def weight_scales() -> st.SearchStrategy[float]:
    """Multiples of nn.RNN's init bound: 1 is the default; larger is closer to chaos."""
    return st.sampled_from([1.0, 0.5, 2.0, 4.0])


@st.composite
def input_cases(
    draw: st.DrawFn,
    config: RNNConfig,
    *,
    layout: MaybeStrategy[str] = st.sampled_from(LAYOUTS),
    seq_len: MaybeStrategy[int] | None = None,
    batch: MaybeStrategy[int] | None = None,
    with_h0: MaybeStrategy[bool] = st.booleans(),
    seed: MaybeStrategy[int] = st.integers(0, 2**32 - 1),
    input_scale: MaybeStrategy[float] = st.sampled_from([1.0, 0.1, 3.0]),
    weight_scale: MaybeStrategy[float] = weight_scales(),
    budget: int | None = None,
    coincidences: bool = True,
) -> InputCase:
    """An input for ``config``: layout, T >= 1, B >= 0 (>= 1 when packed), packed lengths in
    [1, T] (sorted lengths include duplicates sometimes), h0 or not, a seed and scales.

    ``seq_len`` and ``batch`` default to ranges sized by the budget; with ``coincidences``,
    in about one draw in three one of ``batch == seq_len``, ``T == 1``, ``B == 1`` or
    ``B == 0`` is forced.
    """
    budget = size_budget() if budget is None else budget
    chosen = draw(_strategy(layout))
    width = max(config.input_size, config.hidden_size) * config.num_layers * config.num_directions
    room = max(1, budget // width)
    max_t = max(1, min(12, room))
    t = draw(_strategy(seq_len if seq_len is not None else st.integers(1, max_t)))
    min_b = 1 if chosen.startswith("packed") else 0
    max_b = max(min_b, min(6, room // t))
    b = draw(_strategy(batch if batch is not None else st.integers(min_b, max_b)))
    if chosen == "unbatched":
        b = 1
    elif coincidences and batch is None and seq_len is None:
        forced = _one_of(
            draw,
            ["batch == seq_len"] * (t <= max_b)
            + ["seq_len == 1", "batch == 1"]
            + ["batch == 0"] * (min_b == 0),
        )
        if forced == "batch == seq_len":
            b = t
        elif forced == "seq_len == 1":
            t = 1
        elif forced is not None:
            b = 1 if forced == "batch == 1" else 0
    lengths = None
    if chosen.startswith("packed"):
        lengths = tuple(draw(st.lists(st.integers(1, t), min_size=b, max_size=b)))
        if chosen == "packed_sorted":
            lengths = tuple(sorted(lengths, reverse=True))
        elif b >= 2 and t >= 2 and _sometimes(draw, "packed lengths out of order", chance=2):
            lengths = (1, *sorted(lengths[1:-1]), t)
        if len(set(lengths)) < len(lengths):
            event("packed lengths with duplicates")
    case = InputCase(
        layout=chosen,
        seq_len=t,
        batch=b,
        lengths=lengths,
        with_h0=draw(_strategy(with_h0)),
        seed=draw(_strategy(seed)),
        input_scale=draw(_strategy(input_scale)),
        weight_scale=draw(_strategy(weight_scale)),
    )
    event(f"layout: {chosen}")
    return case


def devices() -> st.SearchStrategy[str]:
    """Devices present on this machine (cpu, meta, and cuda / mps when available), asked
    lazily at first draw, not at import."""
    return st.deferred(lambda: st.sampled_from(_devices.available_devices()))


def dtypes(device: MaybeStrategy[str] = "cpu") -> st.SearchStrategy[torch.dtype]:
    """Floating dtypes nn.RNN supports on ``device``."""
    return _strategy(device).flatmap(lambda d: st.sampled_from(_devices.dtypes_for(d)))


@st.composite
def examples(
    draw: st.DrawFn,
    *,
    device: MaybeStrategy[str] = "cpu",
    dtype: MaybeStrategy[torch.dtype] = torch.float32,
    configs: st.SearchStrategy[RNNConfig] | None = None,
    layout: MaybeStrategy[str] = st.sampled_from(LAYOUTS),
    budget: int | None = None,
    **case_kwargs: Any,
) -> Example:
    """A configuration, a matching input case, a device and a dtype.

    ``configs`` defaults to :func:`rnn_configs`; ``case_kwargs`` go to :func:`input_cases`.
    For float16 / bfloat16, weight and input scales default to at most 1: larger ones
    overflow the dtype, and two overflowed results compare as nothing.
    """
    where = draw(_strategy(device))
    precision = draw(_strategy(dtype))
    if precision in LOW_PRECISION:
        case_kwargs.setdefault("weight_scale", st.sampled_from([1.0, 0.5]))
        case_kwargs.setdefault("input_scale", st.sampled_from([1.0, 0.1]))
    config = draw(configs if configs is not None else rnn_configs())
    case = draw(input_cases(config, layout=layout, budget=budget, **case_kwargs))
    return Example(config, case, where, precision)
