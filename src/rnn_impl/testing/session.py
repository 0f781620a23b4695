"""One selection of runs for every front end: ``rnn-verify``, ``rnn-verify-search``, the pytest
plugin and the zoo's commands each build a :class:`Session` and run what it lists.

A :class:`Run` is one property on one device in one dtype, against the implementation under
test of its shape (a recurrent module, or a cell), with the reason it does not run here (no
such device on this machine, a dtype the device lacks, a layout or fixed constructor argument
the property cannot honour, no implementation of its shape), the expected-failures entry that
lists it, and the regression corpus's examples to replay first.

Example::

    >>> session = Session.from_options(impl="rnn_impl:GRU", properties=["output_close"])
    >>> [run.id for run in session.runs() if run.skip is None][:2]
    ['output_close-cpu-float32', 'output_close-cpu-float64']
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from rnn_impl.testing import corpus, devices, expected
from rnn_impl.testing.cases import LAYOUTS, parse_fixed
from rnn_impl.testing.exceptions import ImplementationError
from rnn_impl.testing.kinds import Kind, described, kind_named
from rnn_impl.testing.oracle import Implementation, load_implementation
from rnn_impl.testing.probe import (
    INITIAL_STATE,
    Probe,
    returns_one_tensor,
    unsupported_dtypes,
    unsupported_layouts,
    unsupported_state,
)
from rnn_impl.testing.properties import BY_NAME, CATALOGUE, CATEGORIES, Property, select
from rnn_impl.testing.runner import Verification, verify
from rnn_impl.testing.strategies import NEAR, SizeLimits
from rnn_impl.testing.tiers import DROP_IN_TIERS, TIERS, USER_TIERS


class SelectionError(ValueError):
    """A selection that cannot be made: a one-line message naming the mistake and its fix
    (the front ends report it as a usage error)."""


@dataclass(frozen=True)
class Run:
    """One property on one device in one dtype, for ``implementation`` (None: none of its
    shape is under test); ``skip`` says why it does not run (None: it does); ``listed`` is
    the expected-failures entry that names it; ``replay`` the corpus examples it runs
    first."""

    prop: Property
    device: str
    dtype: torch.dtype
    implementation: Implementation | None = None
    skip: str | None = None
    listed: expected.Expected | None = None
    replay: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def id(self) -> str:
        """``property-device-dtype``, as reports, pytest and expected-failures files name it."""
        return f"{self.prop.name}-{self.device}-{devices.dtype_name(self.dtype)}"


@dataclass(frozen=True)
class Session:
    """What to verify: the implementations under test (a recurrent module, a cell, or one
    of each), the properties, where (devices and dtype names; None: every one the suite
    knows), on which layouts (None: all), the constructor arguments held fixed, and the
    expected failures (with the file they came from) and corpus failures to apply.

    Build it from objects, or from the options a user gives with :meth:`from_options`.
    """

    implementations: tuple[Implementation, ...]
    properties: tuple[Property, ...]
    devices: tuple[str, ...] | None = None
    dtypes: tuple[str, ...] | None = None
    layouts: tuple[str, ...] | None = None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    expected: tuple[expected.Expected, ...] = ()
    expected_file: str = ""
    corpus: tuple[corpus.Failure, ...] = ()
    tiers: tuple[str, ...] = TIERS
    """The tiers whose properties it holds (:data:`~rnn_impl.testing.tiers.TIERS`)."""
    unsupported: Mapping[str, str] = field(default_factory=dict)
    """The input layouts, dtypes and state form (by name: ``"unbatched"``, ``"float16"``,
    :data:`~rnn_impl.testing.probe.INITIAL_STATE`) the first implementation under test does
    not take at all, left out, with the error every probe of it raised (:meth:`probed`)."""

    @classmethod
    def from_options(
        cls,
        impl: str | None = None,
        adapter: str | None = None,
        kind: str | None = None,
        properties: Sequence[str] | None = None,
        devices: Sequence[str] | None = None,
        dtypes: Sequence[str] | None = None,
        layouts: Sequence[str] | None = None,
        fix: Sequence[str] | Mapping[str, Any] = (),
        expected_failures: str | Path | None = None,
        corpus_file: str | Path | None = None,
        cell_impl: str | None = None,
        cells: bool = False,
        every_property: bool = False,
        tiers: Sequence[str] | None = None,
        arguments: Sequence[str] = (),
        gate_order: str | None = None,
    ) -> Session:
        """A session from what a user types: ``impl`` and ``adapter`` as ``module:attr``
        (else from the environment, else rnn_impl's drop-in of ``kind``), ``kind`` by name
        (else detected), property names, categories or tiers, devices, dtype and layout
        names, ``fix`` as ``NAME=VALUE`` strings or a mapping, ``arguments`` as
        ``ARGUMENT=PARAMETER`` strings (torch's constructor argument, the class's parameter
        that takes it), ``gate_order`` (a GRU or LSTM look-alike's gate letters in the order it
        stacks them, ``"ifog"``), an expected-failures file and a corpus file. ``cell_impl`` adds a cell under test for the cell properties; with
        ``cells`` the default cell (``$RNN_CELL_IMPL``, else rnn_impl.RNNCell) is added when
        ``impl`` is not given. With ``every_property`` the session holds the whole catalogue,
        for cells and recurrent modules alike (the pytest plugin's: the runs of a shape no
        implementation under test has are skipped, with the reason). ``tiers`` (names of
        :data:`~rnn_impl.testing.properties.TIERS`, or ``"all"``) keeps their properties; by
        default, a user's own class is held to ``numerics`` and ``behaviour`` (what it
        computes, and how it behaves as a module) and one that claims to be a drop-in
        (:attr:`~rnn_impl.testing.oracle.Implementation.claims_drop_in`) to ``drop-in`` too
        (``workflows`` is opt-in: :data:`~rnn_impl.testing.tiers.OPT_IN`); named
        ``properties`` are kept whatever their tier unless ``tiers`` is given too.

        Raises:
            SelectionError: any of them cannot be used (the message says which, and how to
                fix it); nothing is run.
        """
        try:
            chosen = kind_named(kind) if kind else None
            under_test = [
                load_implementation(
                    impl, adapter, chosen, arguments=_pairs(arguments), gate_order=gate_order
                )
            ]
            if cell_impl or (cells and impl is None):
                under_test.append(load_implementation(cell_impl, None, None, cell=True))
            fixed = parse_fixed(_fix_items(fix))
            under_test[0] = under_test[0].holding(fixed)
            under_test[0].fixed_arguments(fixed)
        except (ImplementationError, ValueError) as error:
            raise SelectionError(str(error)) from None
        shapes = {i.is_cell for i in under_test}
        try:
            shape = None if every_property or len(shapes) > 1 else shapes.pop()
            props = select(list(properties or []), shape)
        except KeyError as error:
            known = [*BY_NAME, *CATEGORIES, *TIERS]
            close = difflib.get_close_matches(str(error.args[0]), known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise SelectionError(
                f"unknown property, category or tier {error.args[0]!r} ({hint}see rnn-verify "
                "--list)"
            ) from None
        held = _tiers(tiers, under_test[0], bool(properties))
        props = tuple(p for p in props if p.tier in held)
        if not props:
            raise SelectionError(
                f"no property of {properties} is in the tiers {', '.join(held)} "
                f"(add --tier {' --tier '.join(t for t in TIERS if t not in held)})"
            )
        for prop in props:
            wrong = prop.setting_error() if prop.setting_error else None
            if wrong:
                raise SelectionError(wrong)
        mismatched = [p for p in props if not any(p.verifies(i.kind) for i in under_test)]
        if properties and mismatched:
            first = under_test[0]
            raise SelectionError(
                f"{first.name} imitates {first.kind.reference}; these properties verify "
                f"{described(mismatched[0].cells)}: {', '.join(p.name for p in mismatched)} "
                f"(if it is {described(mismatched[0].cells)}: --kind {_suggest(first.kind)})"
            )
        session = cls(
            tuple(under_test),
            props,
            _known(devices, devices_known=True),
            _known(dtypes, devices_known=False),
            tuple(layouts) if layouts else None,
            fixed,
            *read_expected_failures(expected_failures),
            read_corpus(corpus_file),
            held,
        )
        session.check_expected()
        return session

    def probed(self) -> Session:
        """This session without the layouts and CPU dtypes on which every probe of the first
        implementation under test raises (:mod:`~rnn_impl.testing.probe`), unless it names
        its layouts or dtypes itself (their runs are skipped with the error), and without an
        initial state where every probe with one raises. A drop-in takes what torch's module
        takes: it is not probed.

        Raises:
            SelectionError: it returns one tensor for a sequence, as a cell does (the message
                names the ``--kind`` to give).
        """
        implementation = self.implementations[0]
        if implementation.claims_drop_in:
            return self
        probe = Probe(implementation, self.fixed)
        if returns_one_tensor(probe):
            raise SelectionError(
                f"{implementation.name} returned one tensor where "
                f"{implementation.kind.reference} returns (output, h_n): if it is a cell, add "
                f"--kind {implementation.kind.cell.name}; if not, return (output, h_n)"
            )
        found: dict[str, str] = {}
        if self.layouts is None:
            found |= unsupported_layouts(probe)
        taken = tuple(self.layouts or [k for k in LAYOUTS if k not in found]) or LAYOUTS
        found |= unsupported_state(probe, taken)
        if self.dtypes is None:
            found |= unsupported_dtypes(probe, taken)
        return self.leaving_out(found)

    def leaving_out(self, unsupported: Mapping[str, str]) -> Session:
        """This session with ``unsupported`` (as :attr:`unsupported` holds it) left out: the
        layouts no longer drawn (all of them stay if all are unsupported), the dtypes'
        runs skipped, no initial state passed to the first implementation under test."""
        layouts = self.layouts
        gone = [k for k in LAYOUTS if k in unsupported]
        if gone and len(gone) < len(LAYOUTS):
            layouts = tuple(k for k in (layouts or LAYOUTS) if k not in gone)
        under_test = self.implementations
        if INITIAL_STATE in unsupported:
            under_test = (replace(under_test[0], takes_state=False), *under_test[1:])
        return replace(
            self, implementations=under_test, layouts=layouts, unsupported=dict(unsupported)
        )

    def left_out(self) -> list[str]:
        """What probing left out, as a report names it (``"unbatched input"``, ``"float16"``)."""
        return [f"{name} input" if name in LAYOUTS else name for name in self.unsupported]

    def implementation_for(self, prop: Property) -> Implementation | str:
        """The implementation under test that ``prop`` checks, or why there is none."""
        for implementation in self.implementations:
            if prop.verifies(implementation.kind):
                return implementation
        if prop.cells:
            return "no cell under test (name one: --rnn-cell-impl, or cell_impl= of the marker)"
        first = self.implementations[0]
        return (
            f"{first.name} imitates {first.kind.reference}; {prop.name} verifies "
            f"{described(prop.cells)}"
        )

    def runs(self) -> list[Run]:
        """Every run of the selected properties on the selected devices and dtypes,
        property-major; a property has no run where it does not apply (a device or dtype
        outside its own), and a run that cannot run here says why (``skip``)."""
        chosen = self.devices or devices.ALL_DEVICES
        names = self.dtypes or tuple(devices.dtype_name(t) for t in devices.FLOAT_DTYPES)
        found = []
        for prop in self.properties:
            for device in chosen:
                for dtype in devices.FLOAT_DTYPES:
                    if devices.dtype_name(dtype) in names and device in prop.devices:
                        if dtype in prop.dtypes:
                            found.append(self._planned(prop, device, dtype))
        return found

    def live_runs(self) -> list[Run]:
        """The runs that run here.

        Raises:
            SelectionError: none does (the message gives every reason).
        """
        runs = self.runs()
        live = [run for run in runs if run.skip is None]
        if not live:
            reasons = sorted({run.skip for run in runs if run.skip})
            why = "; ".join(reasons) or "no selected property applies to these devices and dtypes"
            raise SelectionError(f"nothing to verify: {why}")
        return live

    def home_runs(self) -> list[Run]:
        """One run per selected property, at its home (:attr:`Property.home`: where the
        zoo's matrix, power and campaigns check a planted bug)."""
        return [self._planned(prop, *prop.home) for prop in self.properties]

    def _planned(self, prop: Property, device: str, dtype: torch.dtype) -> Run:
        target = self.implementation_for(prop)
        implementation = target if isinstance(target, Implementation) else None
        skip = target if isinstance(target, str) else self._why_not(prop, device, dtype, target)
        name = devices.dtype_name(dtype)
        run_id = f"{prop.name}-{device}-{name}"
        return Run(
            prop,
            device,
            dtype,
            implementation,
            skip,
            expected.matching(list(self.expected), run_id),
            tuple(corpus.replay(list(self.corpus), prop.name, device, name)),
        )

    def _why_not(
        self, prop: Property, device: str, dtype: torch.dtype, implementation: Implementation
    ) -> str | None:
        if device not in devices.available_devices():
            return f"no {device} device on this machine"
        if dtype not in devices.dtypes_for(device):
            return f"{devices.dtype_name(dtype)} is not supported on {device}"
        missing = prop.unavailable() if prop.unavailable else None
        if missing:
            return missing
        error = self.unsupported.get(devices.dtype_name(dtype))
        if error is not None and device == "cpu":
            return f"unsupported: {devices.dtype_name(dtype)} (every probe raised {error})"
        if prop.passes_state and not implementation.takes_state:
            return f"not applicable: {implementation.name} takes no {INITIAL_STATE}"
        try:
            held = implementation.fixed_arguments(self.fixed)
        except ImplementationError as error:  # a second implementation (a cell) lacks one
            return str(error)
        for name, value in implementation.binding.held.items():
            if prop.skip_reason(device, dtype, None, {name: value}):
                return f"not applicable: {implementation.name} takes no {name}"
        return prop.skip_reason(device, dtype, self.layouts, held)

    def check_expected(self) -> None:
        """Every expected-failures pattern must match a run the catalogue has for the
        implementations under test, on any device and dtype (a pattern that matches none is
        stale or a typo).

        Raises:
            SelectionError: one does not.
        """
        if not self.expected:
            return
        every = Session(
            self.implementations,
            tuple(p for p in CATALOGUE if any(p.verifies(i.kind) for i in self.implementations)),
        )
        ids = [run.id for run in every.runs()]
        stale = expected.unmatched(list(self.expected), ids)
        if stale:
            entry = stale[0]
            raise SelectionError(
                f"{self.expected_file}:{entry.line}: {entry.pattern!r} matches no run of "
                f"{self.implementations[0].name} (a run is property-device-dtype, e.g. "
                f"{ids[0]}; see rnn-verify --list)"
            )

    def verify(
        self,
        run: Run,
        run_settings: Any = None,
        seed: int | None = None,
        collect: bool = True,
        covering: bool = True,
        database_key: bytes | None = None,
        limits: tuple[SizeLimits, ...] = (NEAR,),
    ) -> Verification:
        """Check ``run`` (one that is not skipped) through Hypothesis under ``run_settings``:
        its corpus examples, then its covering set (unless ``covering`` is False), then
        drawn examples (``limits``; a search campaign adds ``strategies.FAR``), with this
        session's layouts and fixed arguments (:func:`rnn_impl.testing.runner.verify`)."""
        if run.implementation is None or run.skip is not None:
            raise ValueError(f"{run.id} does not run here: {run.skip}")
        return verify(
            run.prop,
            run.implementation,
            run.device,
            run.dtype,
            run_settings,
            seed=seed,
            collect=collect,
            layouts=self.layouts,
            fixed=self.fixed,
            replay=run.replay,
            covering=covering,
            database_key=database_key,
            limits=limits,
        )


def _fix_items(fix: Sequence[str] | Mapping[str, Any]) -> list[str]:
    """``fix`` as ``NAME=VALUE`` strings (a mapping's booleans as ``true`` / ``false``)."""
    if isinstance(fix, Mapping):
        return [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in fix.items()]
    return list(fix)


def _suggest(kind: Kind) -> str:
    """The kind to try for a mismatched property: the module of a cell's family, or the
    cell of a module's."""
    return kind.module.name if kind.is_cell else kind.cell.name


def _known(names: Sequence[str] | None, devices_known: bool) -> tuple[str, ...] | None:
    """``names`` checked against the devices (or dtypes) the suite knows."""
    if not names:
        return None
    known = (
        devices.ALL_DEVICES
        if devices_known
        else tuple(devices.dtype_name(t) for t in devices.FLOAT_DTYPES)
    )
    for name in names:
        if name not in known:
            what = "device" if devices_known else "dtype"
            raise SelectionError(f"unknown {what} {name!r} (choose from {', '.join(known)})")
    return tuple(names)


def read_expected_failures(path: str | Path | None) -> tuple[tuple[expected.Expected, ...], str]:
    """The entries of an expected-failures file and its name (none without a file).

    Raises:
        SelectionError: the file is missing or malformed.
    """
    if path is None:
        return (), ""
    try:
        return tuple(expected.load(path)), str(path)
    except ValueError as error:
        raise SelectionError(str(error)) from None


def _pairs(items: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        argument, sep, parameter = item.partition("=")
        if not sep or not argument or not parameter:
            raise SelectionError(
                f"--arg {item}: expected ARGUMENT=PARAMETER, e.g. num_layers=n_stack"
            )
        pairs[argument] = parameter
    return pairs


def _tiers(
    names: Sequence[str] | None, implementation: Implementation, named: bool
) -> tuple[str, ...]:
    """The tiers a session holds (see :meth:`Session.from_options`)."""
    if names:
        unknown = [n for n in names if n not in (*TIERS, "all")]
        if unknown:
            raise SelectionError(
                f"unknown tier {unknown[0]!r} (choose from {', '.join(TIERS)} or all)"
            )
        return TIERS if "all" in names else tuple(t for t in TIERS if t in names)
    if named:
        return TIERS
    return DROP_IN_TIERS if implementation.claims_drop_in else USER_TIERS


def read_corpus(path: str | Path | None) -> tuple[corpus.Failure, ...]:
    """The failures a corpus file records (none without a file).

    Raises:
        SelectionError: the file is missing or not a corpus.
    """
    if path is None:
        return ()
    try:
        return tuple(corpus.load(path))
    except ValueError as error:
        raise SelectionError(str(error)) from None
