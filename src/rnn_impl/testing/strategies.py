"""Public Hypothesis strategies for RNN configurations, inputs, devices and dtypes.

Every argument is a plain value or a strategy (``sizes(max_value=4)`` and ``st.just(4)`` both
work). Strategies draw small descriptions (:class:`~rnn_impl.testing.cases.ModuleConfig`,
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, Union

import hypothesis.strategies as st
import torch
from hypothesis import assume, event
from hypothesis.errors import InvalidArgument

from rnn_impl.testing import devices as _devices
from rnn_impl.testing.cases import LAYOUTS, InputCase, ModuleConfig
from rnn_impl.testing.covering import LEVELS, SIZE_LEVELS
from rnn_impl.testing.kinds import FAMILIES, KINDS, RNN

__all__ = [
    "Example",
    "FAR",
    "NEAR",
    "SizeLimits",
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
    """``$RNN_IMPL_SIZE_BUDGET`` or 4096: the most ``T*B*max(I,H)*L*D`` a draw may limits."""
    return int(os.environ.get(BUDGET_ENV, DEFAULT_BUDGET))


def _strategy(value: MaybeStrategy[Any]) -> st.SearchStrategy[Any]:
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def _require(func: str, name: str, value: Any, ok: Callable[[Any], bool], what: str) -> None:
    """Reject a plain ``value`` (strategies are drawn later) that ``ok`` refuses, saying what
    is expected: ``InvalidArgument``, as Hypothesis' own strategies do."""
    if isinstance(value, st.SearchStrategy) or ok(value):
        return
    raise InvalidArgument(f"{func}({name}={value!r}): {name} must be {what}, or a strategy of them")


def _require_limits(func: str, limits: Any) -> None:
    if not isinstance(limits, SizeLimits):
        raise InvalidArgument(
            f"{func}(limits={limits!r}): limits must be a SizeLimits (strategies.NEAR or "
            f"strategies.FAR, or SizeLimits(size, seq_len, batch))"
        )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


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


@dataclass(frozen=True)
class SizeLimits:
    """How far random draws go where a size is left to be drawn: the largest feature size
    (input and hidden), sequence length and batch; the size budget caps their product further.

    Raises:
        InvalidArgument: a field that is not an int >= 1.
    """

    size: int
    seq_len: int
    batch: int

    def __post_init__(self) -> None:
        for name in ("size", "seq_len", "batch"):
            if not _positive_int(getattr(self, name)):
                raise InvalidArgument(
                    f"SizeLimits({name}={getattr(self, name)!r}): {name} must be an int >= 1"
                )

    def feature_sizes(self) -> dict[str, Any]:
        """``input_size`` and ``hidden_size`` strategies up to :attr:`size`, for
        :func:`rnn_configs`."""
        return {name: sizes(max_value=self.size) for name in ("input_size", "hidden_size")}


NEAR = SizeLimits(size=8, seq_len=12, batch=6)
"""The default: small, fast examples, dense in coincidences (the covering sets hold the far
levels)."""

FAR = SizeLimits(size=max(SIZE_LEVELS), seq_len=max(LEVELS["seq_len"]), batch=32)
"""Feature sizes and sequence lengths up to the covering sets' far levels (64 and 256), and
batches up to 32, drawn at random: what search campaigns add to :data:`NEAR`."""


def sizes(*, min_value: int = 1, max_value: int = 8) -> st.SearchStrategy[int]:
    """Feature sizes (input_size, hidden_size) in ``[min_value, max_value]``.

    Example::

        >>> sizes(max_value=4).example() in range(1, 5)
        True
    """
    _require("sizes", "min_value", min_value, _positive_int, "an int >= 1")
    if not (isinstance(max_value, int) and max_value >= min_value):
        raise InvalidArgument(
            f"sizes(min_value={min_value!r}, max_value={max_value!r}): max_value must be an "
            f"int >= min_value"
        )
    return st.integers(min_value, max_value)


@dataclass(frozen=True)
class Example:
    """One drawn example: the constructor arguments (:class:`ModuleConfig`), the input
    (:class:`InputCase`), and the device and dtype it runs on; what a property checks and a
    corpus records.

    Example::

        >>> Example(ModuleConfig(3, 4), InputCase(), "cpu", torch.float64).config.hidden_size
        4
    """

    config: ModuleConfig
    case: InputCase
    device: str
    dtype: torch.dtype

    def __str__(self) -> str:
        return (
            f"{self.config} on {self.device}/{str(self.dtype).removeprefix('torch.')}, {self.case}"
        )


def rnn_configs(
    *,
    input_size: MaybeStrategy[int] = sizes(),
    hidden_size: MaybeStrategy[int] = sizes(),
    num_layers: MaybeStrategy[int] = st.integers(1, 4),
    nonlinearity: MaybeStrategy[str] = st.sampled_from(["tanh", "relu"]),
    bias: MaybeStrategy[bool] = st.booleans(),
    batch_first: MaybeStrategy[bool] = st.booleans(),
    dropout: MaybeStrategy[float] = 0.0,
    bidirectional: MaybeStrategy[bool] = st.booleans(),
    proj_size: MaybeStrategy[int] | None = None,
    coincidences: bool = True,
    family: str = RNN.name,
) -> st.SearchStrategy[ModuleConfig]:
    """nn.RNN (with ``family="gru"``, nn.GRU; with ``"lstm"``, nn.LSTM) constructor arguments
    (:class:`~rnn_impl.testing.cases.ModuleConfig`); each argument a value or a strategy but
    ``family``. The gated modules have no ``nonlinearity``: give ``"tanh"`` (or nothing).
    ``proj_size`` is nn.LSTM's: by default 0 in about half the draws, else in
    ``[1, hidden_size - 1]``; a value at or above the drawn ``hidden_size`` raises it to
    ``proj_size + 1``. Other families take 0 (or nothing).

    With ``coincidences``, arguments left to be drawn (given as strategies) sometimes coincide:
    ``input_size == hidden_size``, and ``num_layers >= 3`` with ``bidirectional``.

    Raises:
        InvalidArgument: a value torch would refuse (a size below 1, an unknown
            nonlinearity, a dropout outside [0, 1], a flag that is not a bool, a
            ``proj_size`` below 0, or not 0 outside ``"lstm"``).

    Example::

        >>> config = rnn_configs(hidden_size=4, num_layers=st.integers(2, 3)).example()
        >>> config.hidden_size, config.num_layers in (2, 3)
        (4, True)
    """
    if family not in FAMILIES:
        raise InvalidArgument(
            f"rnn_configs(family={family!r}): expected one of {', '.join(map(repr, FAMILIES))}"
        )
    kind = KINDS[family]
    if not kind.takes("nonlinearity"):
        nonlinearity = "tanh" if isinstance(nonlinearity, st.SearchStrategy) else nonlinearity
        _require("rnn_configs", "nonlinearity", nonlinearity, lambda v: v == "tanh", "'tanh'")
    if not kind.takes("proj_size"):
        proj_size = 0 if proj_size is None else proj_size
        _require("rnn_configs", "proj_size", proj_size, lambda v: v == 0, "0 (only nn.LSTM has it)")
    if proj_size is not None:
        _require(
            "rnn_configs",
            "proj_size",
            proj_size,
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
            "an int >= 0",
        )
    for name, value in (
        ("input_size", input_size),
        ("hidden_size", hidden_size),
        ("num_layers", num_layers),
    ):
        _require("rnn_configs", name, value, _positive_int, "an int >= 1")
    _require(
        "rnn_configs",
        "nonlinearity",
        nonlinearity,
        lambda v: v in ("tanh", "relu"),
        "'tanh' or 'relu'",
    )
    for name, value in (
        ("bias", bias),
        ("batch_first", batch_first),
        ("bidirectional", bidirectional),
    ):
        _require("rnn_configs", name, value, _is_bool, "a bool")
    _require(
        "rnn_configs",
        "dropout",
        dropout,
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
        "a number in [0, 1]",
    )
    if isinstance(proj_size, int) and isinstance(hidden_size, int) and 0 < hidden_size <= proj_size:
        raise InvalidArgument(
            f"rnn_configs(proj_size={proj_size!r}, hidden_size={hidden_size!r}): proj_size "
            "must be below hidden_size (nn.LSTM's rule)"
        )
    return _rnn_configs(
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        nonlinearity=nonlinearity,
        bias=bias,
        batch_first=batch_first,
        dropout=dropout,
        bidirectional=bidirectional,
        proj_size=proj_size,
        coincidences=coincidences,
        family=family,
    )


@st.composite
def _rnn_configs(
    draw: st.DrawFn,
    *,
    input_size: MaybeStrategy[int],
    hidden_size: MaybeStrategy[int],
    num_layers: MaybeStrategy[int],
    nonlinearity: MaybeStrategy[str],
    bias: MaybeStrategy[bool],
    batch_first: MaybeStrategy[bool],
    dropout: MaybeStrategy[float],
    bidirectional: MaybeStrategy[bool],
    proj_size: MaybeStrategy[int] | None,
    coincidences: bool,
    family: str,
) -> ModuleConfig:
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
    if proj_size is None:  # an LSTM's, drawn: about half the time when there is room
        room = st.integers(1, hidden - 1) if hidden > 1 else st.nothing()
        projection = draw(st.one_of(st.just(0), room))
    else:
        projection = draw(_strategy(proj_size))
    if projection >= hidden:
        # a drawn hidden_size makes room; a fixed one rejects the draw
        assume(isinstance(hidden_size, st.SearchStrategy))
        hidden = projection + 1
    if projection:
        event("proj_size > 0")
    return ModuleConfig(
        input_size=features,
        hidden_size=hidden,
        num_layers=layers,
        nonlinearity=draw(_strategy(nonlinearity)),
        bias=draw(_strategy(bias)),
        batch_first=draw(_strategy(batch_first)),
        dropout=draw(_strategy(dropout)),
        bidirectional=bidir,
        proj_size=projection,
        family=family,
    )


def weight_scales() -> st.SearchStrategy[float]:
    """Multiples of torch's init bound (1, 0.5, 2 or 4; 1 is torch's default): larger is
    closer to chaos, where rounding differences grow from step to step."""
    return st.sampled_from([1.0, 0.5, 2.0, 4.0])


def input_cases(
    config: ModuleConfig,
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
    limits: SizeLimits = NEAR,
) -> st.SearchStrategy[InputCase]:
    """An input for ``config``: layout, T >= 1, B >= 0 (>= 1 when packed), packed lengths in
    [1, T] (sorted lengths include duplicates sometimes), h0 or not, a seed and scales.

    ``seq_len`` and ``batch`` default to ranges up to ``limits`` (:data:`NEAR`, or
    :data:`FAR`), within the budget; with ``coincidences``,
    in about one draw in three one of ``batch == seq_len``, ``T == 1``, ``B == 1`` or
    ``B == 0`` is forced.

    Raises:
        InvalidArgument: ``config`` is not an ``ModuleConfig``, an unknown layout, ``seq_len``
            below 1, ``batch`` below 0, a seed below 0, a budget below 1, or a ``limits``
            that is not a :class:`SizeLimits`.

    Example::

        >>> case = input_cases(ModuleConfig(3, 4), layout="batched", seq_len=5).example()
        >>> case.layout, case.seq_len
        ('batched', 5)
    """
    if not isinstance(config, ModuleConfig):
        raise InvalidArgument(
            f"input_cases(config={config!r}): config must be an ModuleConfig "
            f"(draw one with rnn_configs(), or build ModuleConfig(input_size, hidden_size))"
        )
    _require("input_cases", "layout", layout, lambda v: v in LAYOUTS, f"one of {LAYOUTS}")
    if seq_len is not None:
        _require("input_cases", "seq_len", seq_len, _positive_int, "an int >= 1")
    if batch is not None:
        _require(
            "input_cases",
            "batch",
            batch,
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
            "an int >= 0",
        )
    _require("input_cases", "with_h0", with_h0, _is_bool, "a bool")
    _require(
        "input_cases",
        "seed",
        seed,
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "an int >= 0",
    )
    if budget is not None and not _positive_int(budget):
        raise InvalidArgument(f"input_cases(budget={budget!r}): budget must be an int >= 1")
    _require_limits("input_cases", limits)
    return _input_cases(
        config,
        layout=layout,
        seq_len=seq_len,
        batch=batch,
        with_h0=with_h0,
        seed=seed,
        input_scale=input_scale,
        weight_scale=weight_scale,
        budget=budget,
        coincidences=coincidences,
        limits=limits,
    )


@st.composite
def _input_cases(
    draw: st.DrawFn,
    config: ModuleConfig,
    *,
    layout: MaybeStrategy[str],
    seq_len: MaybeStrategy[int] | None,
    batch: MaybeStrategy[int] | None,
    with_h0: MaybeStrategy[bool],
    seed: MaybeStrategy[int],
    input_scale: MaybeStrategy[float],
    weight_scale: MaybeStrategy[float],
    budget: int | None,
    coincidences: bool,
    limits: SizeLimits,
) -> InputCase:
    budget = size_budget() if budget is None else budget
    chosen = draw(_strategy(layout))
    width = max(config.input_size, config.hidden_size) * config.num_layers * config.num_directions
    room = max(1, budget // width)
    max_t = max(1, min(limits.seq_len, room))
    t = draw(_strategy(seq_len if seq_len is not None else st.integers(1, max_t)))
    min_b = 1 if chosen.startswith("packed") else 0
    max_b = max(min_b, min(limits.batch, room // t))
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


def examples(
    *,
    device: MaybeStrategy[str] = "cpu",
    dtype: MaybeStrategy[torch.dtype] = torch.float32,
    configs: st.SearchStrategy[ModuleConfig] | None = None,
    layout: MaybeStrategy[str] = st.sampled_from(LAYOUTS),
    budget: int | None = None,
    limits: SizeLimits = NEAR,
    **case_kwargs: Any,
) -> st.SearchStrategy[Example]:
    """A configuration, a matching input case, a device and a dtype.

    ``configs`` defaults to :func:`rnn_configs` with feature sizes up to ``limits``
    (:data:`NEAR`, or :data:`FAR`), which also bounds the input's length and batch;
    ``case_kwargs`` go to :func:`input_cases`.
    For float16 / bfloat16, weight and input scales default to at most 1: larger ones
    overflow the dtype, and two overflowed results compare as nothing.

    Raises:
        InvalidArgument: an unknown device, a dtype that is not a floating ``torch.dtype``
            (``"float32"`` rather than ``torch.float32``), ``configs`` not a strategy, or a
            ``limits`` that is not a :class:`SizeLimits`.

    Example::

        >>> example = examples(dtype=torch.float64, layout="unbatched").example()
        >>> example.dtype, example.case.layout
        (torch.float64, 'unbatched')
    """
    known = _devices.ALL_DEVICES
    _require("examples", "device", device, lambda v: v in known, f"one of {known}")
    _require(
        "examples",
        "dtype",
        dtype,
        lambda v: v in _devices.FLOAT_DTYPES,
        "a floating torch.dtype such as torch.float32",
    )
    if configs is not None and not isinstance(configs, st.SearchStrategy):
        raise InvalidArgument(
            f"examples(configs={configs!r}): configs must be a strategy of ModuleConfig "
            f"(for one configuration, st.just(config))"
        )
    _require_limits("examples", limits)
    return _examples(
        device=device,
        dtype=dtype,
        configs=configs,
        layout=layout,
        budget=budget,
        limits=limits,
        **case_kwargs,
    )


@st.composite
def _examples(
    draw: st.DrawFn,
    *,
    device: MaybeStrategy[str] = "cpu",
    dtype: MaybeStrategy[torch.dtype] = torch.float32,
    configs: st.SearchStrategy[ModuleConfig] | None = None,
    layout: MaybeStrategy[str] = st.sampled_from(LAYOUTS),
    budget: int | None = None,
    limits: SizeLimits = NEAR,
    **case_kwargs: Any,
) -> Example:
    where = draw(_strategy(device))
    precision = draw(_strategy(dtype))
    if precision in LOW_PRECISION:
        case_kwargs.setdefault("weight_scale", st.sampled_from([1.0, 0.5]))
        case_kwargs.setdefault("input_scale", st.sampled_from([1.0, 0.1]))
    config = draw(configs if configs is not None else rnn_configs(**limits.feature_sizes()))
    case = draw(input_cases(config, layout=layout, budget=budget, limits=limits, **case_kwargs))
    return Example(config, case, where, precision)
