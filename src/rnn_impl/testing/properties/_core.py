"""The :class:`Property` record, the registry, and the comparisons every property uses.

A property is a plain function ``check(subject, example) -> float | None``: it raises
:class:`PropertyFailure` (an ``AssertionError``) with the configuration, device, dtype, the
largest error and where it occurred, or returns a normalised error (``<= 1`` passes; the
runner hands it to ``hypothesis.target`` so deep searches climb towards failures). The
helpers that raise hide their own frames from pytest's tracebacks (``__tracebackhide__``),
so a failure points at the property's line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.cases import InputCase, RNNConfig, case_size
from rnn_impl.testing.covering import (
    COVERING_BUDGET,
    CROSSED,
    LEVELS,
    META_SEQ_LEN,
    covering_array,
)
from rnn_impl.testing.devices import COMPUTE_DEVICES, FLOAT_DTYPES, dtype_name
from rnn_impl.testing.exceptions import PropertyFailure
from rnn_impl.testing.invalid_calls import first_difference
from rnn_impl.testing.oracle import Subject, as_tensors
from rnn_impl.testing.strategies import NEAR, Example, Reach, examples, rnn_configs
from rnn_impl.testing.tolerances import (
    ASSERT_CLOSE_DEFAULTS,
    Difference,
    difference,
    identical,
    oracle_bound,
    step_floor,
)


@dataclass(frozen=True, order=True)
class Measure:
    """How close a check came to failing: ``normalised`` is the error over its bound (<= 1
    passes; what ``hypothesis.target`` climbs); ``max_abs`` and ``eps_units`` the largest
    absolute error and that error in units of the dtype's eps."""

    normalised: float
    max_abs: float = 0.0
    eps_units: float = 0.0


ZERO = Measure(0.0)

Check = Callable[[Subject, Example], "Measure | None"]


@dataclass(frozen=True)
class Property:
    """One entry of the catalogue.

    Attributes:
        name: short identifier (``--property`` filters on it).
        group: differential, gradients, contracts, errors, api, dropout or laws.
        check: the function that verifies one example.
        devices / dtypes: where it applies; elsewhere it is skipped with a reason.
        draw: keyword arguments for :func:`rnn_impl.testing.strategies.examples`.
        config: keyword arguments for :func:`rnn_impl.testing.strategies.rnn_configs`, the
            configurations the property needs (values or strategies).
        kind: ``"rnn"`` (verifies an nn.RNN look-alike) or ``"cell"`` (an nn.RNNCell one).
        levels: covering levels of the factors it narrows (see :meth:`covering`); needed for
            every factor its ``config`` or ``draw`` gives as a strategy.
        tolerance: whether its verdict rests on a tolerance (a rounding could, with a wrong
            bound, reject a correct implementation; the false-alarm campaign runs these).
    """

    name: str
    group: str
    check: Check
    devices: tuple[str, ...] = COMPUTE_DEVICES
    dtypes: tuple[torch.dtype, ...] = FLOAT_DTYPES
    draw: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "rnn"
    levels: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    tolerance: bool = False

    @property
    def doc(self) -> str:
        paragraph = (self.check.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(line.strip() for line in paragraph.splitlines())

    @property
    def exact(self) -> bool:
        return self.name.endswith("_exact")

    def skip_reason(
        self,
        device: str,
        dtype: torch.dtype,
        layouts: tuple[str, ...] | None = None,
        fixed: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Why this property does not run on ``device``/``dtype`` with only ``layouts`` and
        the constructor arguments ``fixed`` (None if it does)."""
        if device not in self.devices:
            return f"{self.name} does not apply to {device}"
        if dtype not in self.dtypes:
            return f"{self.name} does not apply to {dtype_name(dtype)}"
        layout = self.draw.get("layout")
        if layouts and isinstance(layout, str) and layout not in layouts:
            return f"{self.name} needs the {layout} layout"
        for name, value in (fixed or {}).items():
            own = self.config.get(name, value)
            if isinstance(own, st.SearchStrategy) or own != value:
                return f"{self.name} draws its own {name}"
        return None

    def strategy(
        self,
        device: str,
        dtype: torch.dtype,
        layouts: tuple[str, ...] | None = None,
        fixed: Mapping[str, Any] | None = None,
        reach: Reach = NEAR,
    ) -> Any:
        """Examples for this property; ``layouts`` narrows the layouts it may draw,
        ``fixed`` holds constructor arguments (where :meth:`skip_reason` allows), and
        ``reach`` bounds the sizes, lengths and batches it draws where it does not choose
        its own."""
        draw = dict(self.draw)
        if layouts and not isinstance(draw.get("layout"), str):
            draw["layout"] = st.sampled_from(layouts)
        configs = rnn_configs(**{**reach.feature_sizes(), **self.config, **(fixed or {})})
        return examples(device=device, dtype=dtype, configs=configs, reach=reach, **draw)

    def covering_levels(
        self,
        device: str,
        layouts: tuple[str, ...] | None = None,
        fixed: Mapping[str, Any] | None = None,
    ) -> dict[str, tuple[Any, ...]]:
        """The factors of this property's covering array on ``device`` and their levels: the
        defaults of :data:`~rnn_impl.testing.covering.LEVELS`, the values its ``config`` and
        ``draw`` fix, its own ``levels``, then ``fixed`` and ``layouts``. On the meta device,
        which computes nothing, sequences stop at
        :data:`~rnn_impl.testing.covering.META_SEQ_LEN` steps: more would only repeat
        Python's per-step work.

        Raises:
            ValueError: ``config`` or ``draw`` gives a factor as a strategy and ``levels``
                does not say which of its values to cover.
        """
        chosen: dict[str, tuple[Any, ...]] = dict(LEVELS)
        for name, value in {**self.config, **self.draw}.items():
            if name == "budget" or name in self.levels:
                continue
            if isinstance(value, st.SearchStrategy):
                raise ValueError(
                    f"{self.name} draws {name} from a strategy: give its covering levels in "
                    f"Property.levels"
                )
            chosen[name] = (value,)
        chosen.update(self.levels)
        chosen.update({name: (value,) for name, value in (fixed or {}).items()})
        if layouts:
            chosen["layout"] = tuple(x for x in chosen["layout"] if x in layouts) or layouts
        if "batched" not in chosen["layout"]:  # unbatched: one row; packed: at least one
            many = tuple(b for b in chosen["batch"] if b >= 1)
            only_unbatched = set(chosen["layout"]) == {"unbatched"}
            chosen["batch"] = (1,) if only_unbatched or not many else many
        if device == "meta":
            chosen["seq_len"] = tuple(t for t in chosen["seq_len"] if t <= META_SEQ_LEN)
        return chosen

    def covering(
        self,
        device: str,
        dtype: torch.dtype,
        layouts: tuple[str, ...] | None = None,
        fixed: Mapping[str, Any] | None = None,
    ) -> list[Example]:
        """The explicit examples run before the random search on ``device`` in ``dtype``.

        The rows of a covering array over :meth:`covering_levels` (every level, every two
        levels of any two factors, and every combination of the
        :data:`~rnn_impl.testing.covering.CROSSED` factors occur in each dtype, where a row
        can hold them: see :meth:`allows`), smallest first: explicit
        examples are not shrunk, so the first failure reported is the smallest failing row.
        Every row fits the size budget (:func:`~rnn_impl.testing.cases.case_size` at most
        ``draw["budget"]``, else :data:`~rnn_impl.testing.covering.COVERING_BUDGET`); levels
        that cannot fit together (256 steps of the widest stack) are left out.
        """
        rows = self.covering_rows(device, layouts, fixed)
        chosen = [Example(*covering_case(row, i), device, dtype) for i, row in enumerate(rows)]
        return sorted(chosen, key=lambda e: (case_size(e.config, e.case), e.case.seed))

    def covering_rows(
        self,
        device: str,
        layouts: tuple[str, ...] | None = None,
        fixed: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The covering array on ``device`` (the same in every dtype), as rows of levels."""
        levels = self.covering_levels(device, layouts, fixed)
        return covering_array(levels, self.allows, CROSSED)

    def allows(self, row: Mapping[str, Any]) -> bool:
        """Whether a covering row can be run as it reads: its batch is the case's (one row
        unbatched, at least one packed) and its case is within the size budget."""
        layout, batch = row["layout"], row["batch"]
        if (layout == "unbatched" and batch != 1) or (layout.startswith("packed") and batch < 1):
            return False
        budget = int(self.draw.get("budget", COVERING_BUDGET))
        return case_size(*covering_case(row, 0)) <= budget


def covering_case(row: Mapping[str, Any], seed: int) -> tuple[RNNConfig, InputCase]:
    """A covering row as a configuration and an input case, seeded with ``seed``; packed
    lengths spread over ``[1, T]``, the longest ``T``."""
    config = RNNConfig(**{k: v for k, v in row.items() if k in RNNConfig.__dataclass_fields__})
    layout, seq_len, batch = row["layout"], row["seq_len"], row["batch"]
    lengths = None
    if layout.startswith("packed"):
        lengths = tuple(seq_len if b == 0 else 1 + (seed + 5 * b) % seq_len for b in range(batch))
        if layout == "packed_sorted":
            lengths = tuple(sorted(lengths, reverse=True))
    return config, InputCase(layout, seq_len, batch, lengths, with_h0=row["with_h0"], seed=seed)


REGISTRY: list[Property] = []


def register(name: str, group: str, **options: Any) -> Callable[[Check], Check]:
    """Add the decorated check to the catalogue under ``name``."""

    def add(check: Check) -> Check:
        REGISTRY.append(Property(name, group, check, **options))
        return check

    return add


def fail(
    example: Example, headline: str, *details: str, measure: Measure | None = None
) -> PropertyFailure:
    """The failure to raise: ``headline``, the example, ``details``; ``measure`` the error."""
    lines = [
        headline,
        f"  config: {example.config}",
        f"  input:  {example.case}",
        f"  device: {example.device}, dtype: {dtype_name(example.dtype)}",
    ]
    lines += [f"  {d}" for d in details]
    failure = PropertyFailure("\n".join(lines))
    failure.measure = measure
    return failure


def call(example: Example, module: Any, *args: Any) -> Any:
    """``module(*args)``; an exception becomes a failure that names the module and the case."""
    __tracebackhide__ = True
    try:
        return module(*args)
    except PropertyFailure:
        raise
    except Exception as exc:
        name = type(module).__name__
        raise fail(example, f"{name} raised {type(exc).__name__}: {exc}") from exc


def forward(example: Example, module: Any, *args: Any) -> Any:
    """:func:`call`, insisting on nn.RNN's ``(output, h_n)`` pair of tensors (a packed output
    stays packed)."""
    __tracebackhide__ = True
    result = call(example, module, *args)
    try:
        as_tensors(result)
    except AssertionError as exc:
        raise fail(example, str(exc)) from None
    return result


def fail_on_difference(
    example: Example, what: str, pairs: Mapping[str, tuple[Callable[[], Any], Callable[[], Any]]]
) -> None:
    """Each labelled ``(nn.RNN's call, the implementation's call)`` must end the same way
    (same exception type and message, or both returning); the first that does not fails."""
    __tracebackhide__ = True
    found = first_difference(pairs, f"torch.{example.config.torch_name}")
    if found is not None:
        label, exc = found
        name = label.split("': ", 1)[0] + "'" if "': " in label else label
        raise fail(example, f"{what} {name} differs from {example.config.torch_name}", str(exc))


def data(value: Tensor | PackedSequence) -> Tensor:
    return value.data if isinstance(value, PackedSequence) else value


def check_like(
    example: Example, what: str, actual: Any, expected: Tensor, against: str | None = None
) -> Tensor:
    """``actual`` must be a tensor with ``expected``'s shape, dtype and device."""
    __tracebackhide__ = True
    against = against or f"{example.config.torch_name}'s"
    if not isinstance(actual, Tensor):
        raise fail(example, f"{what} is a {type(actual).__name__}, {against} is a Tensor")
    for attr in ("shape", "dtype", "device"):
        a, e = getattr(actual, attr), getattr(expected, attr)
        if a != e:
            raise fail(example, f"{what} has {attr} {a}, {against} has {e}")
    return actual


def assert_exact(example: Example, what: str, actual: Any, expected: Tensor) -> Measure:
    __tracebackhide__ = True
    actual = check_like(example, what, actual, expected)
    if not identical(actual, expected):
        diff = difference(actual, expected)
        raise fail(
            example,
            f"{what} is not bit-identical to {example.config.torch_name}'s",
            f"{what}: {diff}",
            measure=Measure(math.inf, diff.max_abs, diff.eps_units),
        )
    return ZERO


def assert_close(
    example: Example, what: str, actual: Any, expected: Tensor, against: str | None = None
) -> Measure:
    """assert_close's default tolerance for the dtype; normalised to units of it."""
    __tracebackhide__ = True
    actual = check_like(example, what, actual, expected, against)
    against = against or f"{example.config.torch_name}'s"
    rtol, atol = ASSERT_CLOSE_DEFAULTS[expected.dtype]
    if actual.numel() == 0 or actual.device.type == "meta":
        return ZERO
    a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
    ratio = float(((a - e).abs() / (atol + rtol * e.abs())).nan_to_num(nan=float("inf")).max())
    diff = difference(actual, expected)
    if not ratio <= 1.0:
        raise fail(
            example,
            f"{what} differs from {against} beyond assert_close(rtol={rtol}, atol={atol})",
            f"{what}: {diff}",
            measure=Measure(ratio, diff.max_abs, diff.eps_units),
        )
    return Measure(ratio, diff.max_abs, diff.eps_units)


def assert_oracle(
    example: Example, what: str, actual: Any, reference: Tensor, oracle: Tensor
) -> Measure:
    """Low precision: the error against the float64 ``oracle`` may be at most a small multiple
    of nn.RNN's own error, or of one step's rounding floor where that is larger (see
    :mod:`rnn_impl.testing.tolerances`)."""
    __tracebackhide__ = True
    actual = check_like(example, what, actual, reference)
    if actual.numel() == 0 or actual.device.type == "meta":
        return ZERO
    ours: Difference = difference(actual, oracle)
    theirs: Difference = difference(reference, oracle)
    c = example.config
    terms = max(c.input_size, c.hidden_size * c.num_directions) + c.hidden_size + 2
    magnitude = float(oracle.detach().abs().nan_to_num(posinf=0.0).max())
    floor = step_floor(terms, magnitude, reference.dtype)
    bound = oracle_bound(max(theirs.max_abs, floor), reference.dtype)
    if not ours.max_abs <= bound:
        raise fail(
            example,
            f"{what} is further from the float64 result than {example.config.torch_name}'s own {what} allows",
            f"implementation vs float64: {ours}",
            f"{example.config.torch_name + ' vs float64:':27}{theirs}",
            f"rounding floor of a step's {terms} terms: {floor:.3g}; allowed: {bound:.3g}",
            measure=Measure(math.inf, ours.max_abs, ours.eps_units),
        )
    normalised = ours.max_abs / bound if math.isfinite(bound) else 0.0
    return Measure(normalised, ours.max_abs, ours.eps_units)
