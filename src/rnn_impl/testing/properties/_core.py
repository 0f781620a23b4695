"""The :class:`Property` record, the registry, and the comparisons every property uses.

A property is a plain function ``check(implementation, example) -> float | None``: it raises
:class:`PropertyFailure` (an ``AssertionError``) with the configuration, device, dtype, the
largest error and where it occurred, or returns a normalised error (``<= 1`` passes; the
runner hands it to ``hypothesis.target`` so deep searches climb towards failures). The
helpers that raise hide their own frames from pytest's tracebacks (``__tracebackhide__``),
so a failure points at the property's line.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import hypothesis.strategies as st
import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.cases import InputCase, ModuleConfig, case_size, split_state
from rnn_impl.testing.covering import (
    COVERING_BUDGET,
    CROSSED,
    LEVELS,
    META_SEQ_LEN,
    PROJ_LEVELS,
    SHORT_SEQ_LEVELS,
    covering_array,
)
from rnn_impl.testing.devices import COMPUTE_DEVICES, FLOAT_DTYPES, dtype_name
from rnn_impl.testing.exceptions import BEHAVIOUR, ERRORS, FORM, RAISED, VALUES, PropertyFailure
from rnn_impl.testing.invalid_calls import first_difference
from rnn_impl.testing.kinds import KINDS, RNN, Kind
from rnn_impl.testing.oracle import Implementation, as_tensors, reference_routes, untouched_rng
from rnn_impl.testing.strategies import NEAR, Example, SizeLimits, examples, rnn_configs
from rnn_impl.testing.tiers import TIERS
from rnn_impl.testing.tolerances import SAFETY, difference, identical, judge, unit_roundoff


@dataclass(frozen=True, order=True)
class Measure:
    """How close a check came to failing: ``normalised`` is the error over its bound (<= 1
    passes; what ``hypothesis.target`` climbs); ``max_abs`` and ``eps_units`` the largest
    absolute error and that error in units of the dtype's eps; ``rows`` and ``judged`` how
    many rows of results it compared by their sensitivity and how many of those could be
    judged (:func:`~rnn_impl.testing.tolerances.judge`); ``counts`` what it observed on the
    way, by name (a compiled property's recompiles and graph breaks), reported per run."""

    normalised: float
    max_abs: float = 0.0
    eps_units: float = 0.0
    rows: int = 0
    judged: int = 0
    counts: tuple[tuple[str, int], ...] = field(default=(), compare=False)

    @property
    def conditioned(self) -> bool:
        """At least half the rows it compared by their sensitivity could be judged (an
        example where fewer could is too ill-conditioned to judge)."""
        return 2 * self.judged >= self.rows

    def merge(self, other: Measure) -> Measure:
        """The worse of the two, over the rows of both."""
        worse = max(self, other)
        rows, judged = self.rows + other.rows, self.judged + other.judged
        counts = Counter(dict(self.counts))
        counts.update(dict(other.counts))
        every = tuple(sorted(counts.items()))
        return Measure(worse.normalised, worse.max_abs, worse.eps_units, rows, judged, every)


ZERO = Measure(0.0)

Check = Callable[[Implementation, Example], "Measure | None"]


COMPARISONS = ("exact", "tolerance", "law", "contract")
"""How a property judges: bit for bit against torch's module (``exact``), within a tolerance of
it (``tolerance``), by a relation among the implementation's own results (``law``), or by what
must hold whatever the values (``contract``: types, shapes, errors, the RNG, the API)."""


@dataclass(frozen=True)
class Property:
    """One entry of the catalogue.

    Attributes:
        name: short identifier (``--property`` filters on it).
        category: differential, gradients, contracts, errors, api, dropout, laws or cell.
        check: the function that verifies one example.
        comparison: how it judges, one of :data:`COMPARISONS`.
        tier: what its verdict says, one of :data:`~rnn_impl.testing.tiers.TIERS`.
        devices / dtypes: where it applies; elsewhere it is skipped with a reason.
        draw: keyword arguments for :func:`rnn_impl.testing.strategies.examples`.
        config: keyword arguments for :func:`rnn_impl.testing.strategies.rnn_configs`, the
            configurations the property needs (values or strategies).
        cells: it verifies a cell (nn.RNNCell, nn.GRUCell, nn.LSTMCell); else a recurrent
            module (nn.RNN, nn.GRU, nn.LSTM).
        levels: covering levels of the factors it narrows (see :meth:`covering`); needed for
            every factor its ``config`` or ``draw`` gives as a strategy.
        holds: the factors it draws that a class may hold at one of their ``levels`` (it
            runs there; any other it draws makes it not applicable to a class holding one):
            gradcheck's ``num_layers``, where one layer is as good as three.
        long_sequences: its verdict can turn on how rounding grows over many steps (a
            tolerance on outputs or gradients, bit identity): its covering rows reach
            :data:`~rnn_impl.testing.covering.LEVELS`' 256 steps; any other property's stop
            at :data:`~rnn_impl.testing.covering.SHORT_SEQ_LEVELS`' 17, and its far lengths
            are left to search campaigns.
        passes_state: it passes a state of its own on (streaming carries h_n into a second
            call): it does not apply to an implementation that takes no initial state. Any
            other property runs such an implementation without h0.
        examples: the most examples it draws after its explicit ones, in any profile (None:
            the profile's); for a property whose example costs seconds (a compile), or
            whose covering rows already reach what draws would (large sizes on meta).
        unavailable: why it cannot run on this machine (None: it can), asked per run: a
            compiler that is missing.
        setting_error: what is wrong with a setting it reads from the environment (None:
            nothing), asked when a session selects it: a usage error, before any work.
    """

    name: str
    category: str
    check: Check
    comparison: str
    tier: str
    devices: tuple[str, ...] = COMPUTE_DEVICES
    dtypes: tuple[torch.dtype, ...] = FLOAT_DTYPES
    draw: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    cells: bool = False
    levels: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    holds: tuple[str, ...] = ()
    long_sequences: bool = False
    passes_state: bool = False
    examples: int | None = None
    unavailable: Callable[[], str | None] | None = None
    setting_error: Callable[[], str | None] | None = None

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS or self.tier not in TIERS:
            raise ValueError(
                f"{self.name}: comparison {self.comparison!r} (one of {COMPARISONS}), "
                f"tier {self.tier!r} (one of {TIERS})"
            )

    @property
    def doc(self) -> str:
        paragraph = (self.check.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(line.strip() for line in paragraph.splitlines())

    def verifies(self, kind: Kind) -> bool:
        """Whether it checks an implementation of ``kind`` (a cell property, a cell)."""
        return self.cells == kind.is_cell

    @property
    def home(self) -> tuple[str, torch.dtype]:
        """The one device and dtype where the zoo checks it: the CPU and float32 where it
        applies, else its first device and dtype."""
        device = "cpu" if "cpu" in self.devices else self.devices[0]
        dtype = torch.float32 if torch.float32 in self.dtypes else self.dtypes[0]
        return device, dtype

    @property
    def exact(self) -> bool:
        """It judges bit for bit."""
        return self.comparison == "exact"

    @property
    def tolerant(self) -> bool:
        """Its verdict rests on a tolerance (a rounding could, with a wrong bound, reject a
        correct implementation): the false-alarm campaigns run these."""
        return self.comparison in ("tolerance", "law")

    def skip_reason(
        self,
        device: str,
        dtype: torch.dtype,
        layouts: tuple[str, ...] | None = None,
        fixed: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Why this property does not run on ``device``/``dtype`` with only ``layouts`` and
        the constructor arguments ``fixed`` (None if it does). An argument it draws and
        ``holds`` may be fixed at one of the values it covers (``levels``): gradcheck, which
        draws 1 to 3 layers, runs on a class of one layer."""
        if device not in self.devices:
            return f"{self.name} does not apply to {device}"
        if dtype not in self.dtypes:
            return f"{self.name} does not apply to {dtype_name(dtype)}"
        layout = self.draw.get("layout")
        if layouts and isinstance(layout, str) and layout not in layouts:
            return f"{self.name} needs the {layout} layout"
        for name, value in (fixed or {}).items():
            own = self.config.get(name, value)
            if isinstance(own, st.SearchStrategy):
                if name not in self.holds or value not in self.levels.get(name, ()):
                    return f"{self.name} draws its own {name}"
            elif own != value:
                return f"{self.name} draws its own {name}"
        return None

    def strategy(
        self,
        device: str,
        dtype: torch.dtype,
        layouts: tuple[str, ...] | None = None,
        fixed: Mapping[str, Any] | None = None,
        limits: SizeLimits = NEAR,
        state: bool = True,
    ) -> Any:
        """Examples for this property; ``layouts`` narrows the layouts it may draw,
        ``fixed`` holds constructor arguments (where :meth:`skip_reason` allows),
        ``limits`` bounds the sizes, lengths and batches it draws where it does not choose
        its own, and without ``state`` no example passes an initial state."""
        draw = dict(self.draw)
        if layouts and not isinstance(draw.get("layout"), str):
            draw["layout"] = st.sampled_from(layouts)
        if not state:
            draw["with_h0"] = False
        configs = rnn_configs(**{**limits.feature_sizes(), **self.config, **(fixed or {})})
        return examples(device=device, dtype=dtype, configs=configs, limits=limits, **draw)

    def covering_levels(
        self,
        device: str,
        layouts: tuple[str, ...] | None = None,
        fixed: Mapping[str, Any] | None = None,
        state: bool = True,
    ) -> dict[str, tuple[Any, ...]]:
        """The factors of this property's covering array on ``device`` and their levels: the
        defaults of :data:`~rnn_impl.testing.covering.LEVELS` (with
        :data:`~rnn_impl.testing.covering.PROJ_LEVELS` for an LSTM; sequences up to
        :data:`~rnn_impl.testing.covering.SHORT_SEQ_LEVELS` unless ``long_sequences``), the
        values its ``config`` and
        ``draw`` fix, its own ``levels``, then ``fixed``, ``layouts`` and ``state`` (False:
        no row passes an initial state). On the meta device,
        which computes nothing, sequences stop at
        :data:`~rnn_impl.testing.covering.META_SEQ_LEN` steps: more would only repeat
        Python's per-step work.

        Raises:
            ValueError: ``config`` or ``draw`` gives a factor as a strategy and ``levels``
                does not say which of its values to cover.
        """
        chosen: dict[str, tuple[Any, ...]] = dict(LEVELS)
        if not self.long_sequences:
            chosen["seq_len"] = SHORT_SEQ_LEVELS
        if KINDS[(fixed or {}).get("family", RNN.name)].takes("proj_size"):
            chosen["proj_size"] = PROJ_LEVELS
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
        least = min(chosen.get("proj_size", (0,)))
        if least:  # a fixed projection: only hidden sizes above it
            chosen["hidden_size"] = tuple(h for h in chosen["hidden_size"] if h > least) or (
                least + 1,
            )
        if layouts:
            chosen["layout"] = tuple(x for x in chosen["layout"] if x in layouts) or layouts
        if not state:
            chosen["with_h0"] = (False,)
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
        state: bool = True,
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
        rows = self.covering_rows(device, layouts, fixed, state)
        chosen = [Example(*covering_case(row, i), device, dtype) for i, row in enumerate(rows)]
        return sorted(chosen, key=lambda e: (case_size(e.config, e.case), e.case.seed))

    def covering_rows(
        self,
        device: str,
        layouts: tuple[str, ...] | None = None,
        fixed: Mapping[str, Any] | None = None,
        state: bool = True,
    ) -> list[dict[str, Any]]:
        """The covering array on ``device`` (the same in every dtype), as rows of levels."""
        levels = self.covering_levels(device, layouts, fixed, state)
        return covering_array(levels, self.allows, CROSSED)

    def allows(self, row: Mapping[str, Any]) -> bool:
        """Whether a covering row can be run as it reads: its batch is the case's (one row
        unbatched, at least one packed), a projection is narrower than the hidden state, and
        its case is within the size budget."""
        layout, batch = row["layout"], row["batch"]
        if (layout == "unbatched" and batch != 1) or (layout.startswith("packed") and batch < 1):
            return False
        projection = row.get("proj_size", 0)
        if projection and projection >= row["hidden_size"]:
            return False
        budget = int(self.draw.get("budget", COVERING_BUDGET))
        return case_size(*covering_case(row, 0)) <= budget


def covering_case(row: Mapping[str, Any], seed: int) -> tuple[ModuleConfig, InputCase]:
    """A covering row as a configuration and an input case, seeded with ``seed``; packed
    lengths spread over ``[1, T]``, the longest ``T``."""
    config = ModuleConfig(
        **{k: v for k, v in row.items() if k in ModuleConfig.__dataclass_fields__}
    )
    layout, seq_len, batch = row["layout"], row["seq_len"], row["batch"]
    lengths = None
    if layout.startswith("packed"):
        lengths = tuple(seq_len if b == 0 else 1 + (seed + 5 * b) % seq_len for b in range(batch))
        if layout == "packed_sorted":
            lengths = tuple(sorted(lengths, reverse=True))
    return config, InputCase(layout, seq_len, batch, lengths, with_h0=row["with_h0"], seed=seed)


REGISTRY: list[Property] = []


def register(
    name: str, category: str, comparison: str, tier: str, **options: Any
) -> Callable[[Check], Check]:
    """Add the decorated check to the catalogue under ``name`` (see :class:`Property`)."""

    def add(check: Check) -> Check:
        REGISTRY.append(Property(name, category, check, comparison, tier, **options))
        return check

    return add


def fail(
    example: Example,
    headline: str,
    *details: str,
    measure: Measure | None = None,
    differs: str = BEHAVIOUR,
) -> PropertyFailure:
    """The failure to raise: ``headline``, the example, ``details``; ``measure`` the error,
    ``differs`` what differs (:mod:`rnn_impl.testing.exceptions`)."""
    lines = [
        headline,
        f"  config: {example.config}",
        f"  input:  {example.case}",
        f"  device: {example.device}, dtype: {dtype_name(example.dtype)}",
    ]
    lines += [f"  {d}" for d in details]
    return PropertyFailure("\n".join(lines), differs, measure)


def call(example: Example, module: Any, *args: Any) -> Any:
    """``module(*args)``; an exception becomes a failure that names the module and the case."""
    __tracebackhide__ = True
    try:
        return module(*args)
    except PropertyFailure:
        raise
    except Exception as exc:
        name = type(module).__name__
        raise fail(example, f"{name} raised {type(exc).__name__}: {exc}", differs=RAISED) from exc


def forward(example: Example, module: Any, *args: Any) -> tuple[Any, Tensor]:
    """:func:`call` with ``(input[, h0])``, insisting on the ``(output, h_n)`` pair of torch's
    module: ``(output, h_n)`` with a packed output kept packed. An LSTM's state goes in as
    ``(h0, c0)`` and comes back joined, as the suite holds it (``h0`` given joined:
    :func:`~rnn_impl.testing.cases.join_state`)."""
    __tracebackhide__ = True
    if len(args) == 2 and isinstance(args[1], Tensor):
        args = (args[0], split_state(example.config, args[1]))
    result = call(example, module, *args)
    try:
        _, h_n = as_tensors(result, example.config)
    except AssertionError as exc:
        raise fail(example, str(exc), differs=FORM) from None
    return result[0], h_n


def fail_on_difference(
    example: Example,
    what: str,
    pairs: Mapping[str, tuple[Callable[[], Any], Callable[[], Any]]],
    reference: str | None = None,
) -> None:
    """Each labelled ``(torch's call, the implementation's call)`` must end the same way
    (same exception type and message, or both returning); the first that does not fails.
    ``reference`` names torch's module (by default the configuration's, ``"nn.RNN"``)."""
    __tracebackhide__ = True
    reference = reference or example.config.kind.reference
    found = first_difference(pairs, f"torch.{reference}")
    if found is not None:
        label, exc = found
        name = label.split("': ", 1)[0] + "'" if "': " in label else label
        raise fail(example, f"{what} {name} differs from {reference}", str(exc), differs=ERRORS)


def data(value: Tensor | PackedSequence) -> Tensor:
    return value.data if isinstance(value, PackedSequence) else value


def check_like(
    example: Example, what: str, actual: Any, expected: Tensor, against: str | None = None
) -> Tensor:
    """``actual`` must be a tensor with ``expected``'s shape, dtype and device."""
    __tracebackhide__ = True
    against = against or f"{example.config.kind.reference}'s"
    if not isinstance(actual, Tensor):
        raise fail(
            example, f"{what} is a {type(actual).__name__}, {against} is a Tensor", differs=FORM
        )
    for attr in ("shape", "dtype", "device"):
        a, e = getattr(actual, attr), getattr(expected, attr)
        if a != e:
            raise fail(example, f"{what} has {attr} {a}, {against} has {e}", differs=FORM)
    return actual


def assert_exact(
    example: Example, what: str, actual: Any, expected: Tensor, reference: str | None = None
) -> Measure:
    """Bit-identical (NaN equal to NaN) to ``expected``, the result of ``reference`` (by
    default the configuration's torch module, ``"nn.RNN"``)."""
    __tracebackhide__ = True
    reference = reference or example.config.kind.reference
    actual = check_like(example, what, actual, expected, f"{reference}'s")
    if not identical(actual, expected):
        diff = difference(actual, expected)
        raise fail(
            example,
            f"{what} is not bit-identical to {reference}'s",
            f"{what}: {diff}",
            measure=Measure(math.inf, diff.max_abs, diff.eps_units),
            differs=VALUES,
        )
    return ZERO


def on_routes(
    example: Example, implementation: Callable[[], Any], reference: Callable[[], Any]
) -> list[tuple[Any, Any]]:
    """``(implementation(), reference())`` under each of the reference's routes
    (:func:`~rnn_impl.testing.oracle.reference_routes`), reference first. A route where
    torch's module itself fails (nn.LSTM's oneDNN route refuses float16 under autocast) is
    left out, and where it fails on every route its first failure is raised; a failure of the
    implementation is raised as it comes."""
    __tracebackhide__ = True
    runs, failures = [], []
    for enter in reference_routes(example.config, example.device).values():
        with enter():
            try:
                expected = reference()
            except PropertyFailure as exc:
                failures.append(exc)
                continue
            runs.append((implementation(), expected))
    if not runs:
        raise failures[0]
    return runs


def assert_exact_results(
    example: Example, labels: tuple[str, ...], runs: Sequence[tuple[Any, Any]]
) -> Measure:
    """On one of the routes (``runs``: ``(actual, expected)`` from :func:`on_routes`) the
    tensors named ``labels`` must be bit-identical; else the failure is reported for the
    first route."""
    __tracebackhide__ = True
    for actual, expected in runs:
        if all(
            isinstance(a, Tensor) and a.shape == e.shape and a.dtype == e.dtype and identical(a, e)
            for a, e in zip(actual, expected)
        ):
            return ZERO
    try:
        for label, a, e in zip(labels, *runs[0]):
            assert_exact(example, label, a, e)
    except PropertyFailure as failure:
        if len(runs) == 1:
            raise
        routes = ", ".join(reference_routes(example.config, example.device))
        lines = str(failure).splitlines()
        raise fail(
            example,
            lines[0],
            *[line.strip() for line in lines[4:]],
            f"(on the first of {example.config.kind.reference}'s routes: {routes}; none matches)",
            measure=failure.measure if isinstance(failure.measure, Measure) else None,
            differs=failure.differs,
        ) from None
    raise fail(
        example,
        f"the results match on none of {example.config.kind.reference}'s routes",
        differs=VALUES,
    )


def assert_within(
    example: Example,
    what: str,
    actual: Any,
    center: Tensor,
    allowed: Callable[[], tuple[Tensor, Tensor]],
    against: str | None = None,
    own: bool = False,
) -> Measure:
    """``actual`` within what rounding allows of ``center`` (torch's result in float64, or
    for a law the implementation's own other result), row by row: :data:`~rnn_impl.testing.
    tolerances.SAFETY` times the spread of correct orders on this example plus the floor,
    ``allowed()`` (:func:`~rnn_impl.testing.tolerances.judge`). A result within its own last
    rounding of ``center`` in every row holds without asking ``allowed`` (the rule allows at
    least that). ``against`` names what ``center`` is (by default torch's module's float64
    result). With ``own`` (a law: ``center`` is the implementation's own result), a result
    within :data:`~rnn_impl.testing.tolerances.SAFETY` roundings of its own values holds too:
    where the implementation's values are not torch's (a bug the law is not about), torch's
    spread says nothing of how two of its orders may differ."""
    __tracebackhide__ = True
    against = against or f"{example.config.kind.reference}'s float64 result"
    if not isinstance(actual, Tensor):
        raise fail(example, f"{what} is a {type(actual).__name__}, not a Tensor", differs=FORM)
    if actual.shape != center.shape:
        shapes = f"{tuple(actual.shape)}, {against} {tuple(center.shape)}"
        raise fail(example, f"{what} has shape {shapes}", differs=FORM)
    if actual.numel() == 0 or actual.device.type == "meta":
        return ZERO
    center = center.to(actual.device)
    last = unit_roundoff(example.dtype) * center.detach().abs()
    if own:
        last = SAFETY * torch.maximum(last, unit_roundoff(example.dtype) * actual.detach().abs())
    judged = judge(actual, center, torch.zeros_like(last), last, example.dtype)
    if not judged.holds:
        judged = judge(actual, center, *allowed(), example.dtype)
    diff = difference(actual, center)
    measure = Measure(judged.normalised, diff.max_abs, diff.eps_units, judged.rows, judged.judged)
    if not judged.holds:
        raise fail(
            example,
            f"{what} is {judged.normalised:.3g}x further from {against} than rounding in any "
            f"order lands on this example",
            f"{what}: {judged}",
            measure=measure,
            differs=VALUES,
        )
    return measure


IDENTICAL = "identical to torch's"
"""The count, per run, of examples whose every compared result had torch's module's own bits
(:func:`judge_results`)."""


def torch_own(example: Example, results: Callable[[], Mapping[str, Tensor]]) -> list[Any]:
    """torch's module's own ``results()`` in the tested dtype, once per route it may take
    (:func:`~rnn_impl.testing.oracle.reference_routes`), the global RNG untouched; a route
    where torch's module fails gives none, and so does the meta device."""
    if example.device == "meta":
        return []
    found = []
    for enter in reference_routes(example.config, example.device).values():
        with untouched_rng(example.device), enter():
            try:
                found.append(results())
            except (PropertyFailure, RuntimeError):
                continue
    return found


def judge_results(
    example: Example,
    actual: Mapping[str, Any],
    center: Mapping[str, Tensor],
    allowed: Callable[[str], tuple[Tensor, Tensor]],
    label: Callable[[str], str],
    own: Sequence[Mapping[str, Tensor]] = (),
    against: str | None = None,
) -> Measure:
    """Each result ``actual[name]`` within what rounding allows of ``center[name]``
    (:func:`assert_within`, ``label(name)`` naming it in a failure). Where every result is
    bit-identical to torch's module's own in the tested dtype on one of its routes (``own``:
    :func:`torch_own`), the example holds without being judged: those bits are what the
    verifier holds an implementation to, whatever the example's conditioning, and no
    sensitivity is computed (counted, :data:`IDENTICAL`; the measure keeps the distance from
    ``center``)."""
    __tracebackhide__ = True
    for bits in own:
        if all(_same(actual.get(name), bits.get(name)) for name in center):
            worst = ZERO
            for name, c in center.items():
                found = difference(actual[name], c)
                worst = worst.merge(Measure(0.0, found.max_abs, found.eps_units))
            return replace(worst, counts=((IDENTICAL, 1),))
    worst = ZERO
    for name, c in center.items():
        what = label(name)
        worst = worst.merge(
            assert_within(example, what, actual[name], c, partial(allowed, name), against)
        )
    return worst


def _same(actual: Any, bits: Any) -> bool:
    return isinstance(actual, Tensor) and isinstance(bits, Tensor) and identical(actual, bits)
