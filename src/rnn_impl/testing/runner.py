"""Running one property through Hypothesis: shared by pytest and ``rnn-verify``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import hypothesis
import hypothesis.reporting
import hypothesis.strategies as st
import torch
from hypothesis import example, given, settings, target

from rnn_impl.testing import devices
from rnn_impl.testing.exceptions import PropertyFailure
from rnn_impl.testing.oracle import Subject
from rnn_impl.testing.properties import Property
from rnn_impl.testing.properties._core import ZERO, Measure
from rnn_impl.testing.strategies import NEAR, Example, Reach


@dataclass
class Tally:
    """What a run saw: examples run, the largest error (``worst.normalised`` 1.0 = the bound),
    and, when it failed, the exception and the (minimal) example it failed on."""

    examples: int = 0
    worst: Measure = ZERO
    last: Example | None = field(default=None, repr=False)
    failure: BaseException | None = field(default=None, repr=False)

    @property
    def failed(self) -> bool:
        return self.failure is not None

    @property
    def headline(self) -> str:
        """``"ExceptionType: first line of its message"`` of the failure ("" if none)."""
        if self.failure is None:
            return ""
        lines = str(self.failure).strip().splitlines()
        return f"{type(self.failure).__name__}: {lines[0] if lines else ''}"


def verify(
    prop: Property,
    subject: Subject,
    device: str,
    dtype: torch.dtype,
    run_settings: settings | None = None,
    seed: int | None = None,
    collect: bool = False,
    layouts: tuple[str, ...] | None = None,
    fixed: Mapping[str, Any] | None = None,
    replay: Sequence[Example] = (),
    covering: bool = True,
    database_key: bytes | None = None,
    reaches: tuple[Reach, ...] = (NEAR,),
) -> Tally:
    """Check ``prop`` on the examples of ``replay`` (a regression corpus's:
    :func:`rnn_impl.testing.corpus.replay`), then on its covering set
    (:meth:`Property.covering`; both explicit examples that Hypothesis runs first, in every
    profile), then on examples drawn by Hypothesis (only ``layouts``, and configurations with
    the constructor arguments ``fixed``, when given).

    The minimal failure found is raised, or with ``collect`` recorded in the returned tally
    (``failure``, and ``last``: the example it failed on) with Hypothesis' own report muted.

    A search campaign (:mod:`rnn_impl.testing.search`) passes ``covering=False`` (the gate runs
    the covering set), ``reaches=(NEAR, FAR)`` (about half its draws go far:
    :class:`~rnn_impl.testing.strategies.Reach`) and a ``database_key`` for
    the run, under which the example database of ``run_settings`` keeps its failures (without
    it Hypothesis would key every run by the one function below).
    """
    tally = Tally()
    fixed = subject.holding(fixed)
    own = subject.own_arguments()
    replay = [replace(e, config=replace(e.config, **own)) for e in replay]
    if device == "cuda":
        devices.deterministic_cuda()

    def check(example: Example) -> None:
        tally.examples += 1
        tally.last = example
        measure = prop.check(subject, example)
        if measure is not None:
            target(measure.normalised, label=f"{prop.name} normalised error")
            tally.worst = max(tally.worst, measure)

    if database_key is not None:
        check._hypothesis_internal_add_digest = database_key  # type: ignore[attr-defined]
    if not reaches:
        raise ValueError("verify(reaches=()): give at least one Reach (strategies.NEAR)")
    drawn = [prop.strategy(device, dtype, layouts, fixed, reach) for reach in reaches]
    test = given(st.one_of(drawn) if len(drawn) > 1 else drawn[0])(check)
    explicit = [*replay, *(prop.covering(device, dtype, layouts, fixed) if covering else [])]
    for row in reversed(explicit):
        test = example(row)(test)
    # one failure, the first failing explicit row or the shrunk one, reported last
    test = settings(run_settings or settings(), report_multiple_bugs=False)(test)
    if seed is not None:
        test = hypothesis.seed(seed)(test)
    if not collect:
        test()
        _require_examples(prop, tally, len(explicit))
        return tally
    with hypothesis.reporting.with_reporter(lambda _text: None):
        try:
            test()
            _require_examples(prop, tally, len(explicit))
        except Exception as exc:  # Hypothesis replayed the failing example last
            tally.failure = exc
    return tally


def _require_examples(prop: Property, tally: Tally, explicit: int) -> None:
    """A run that passed must have run its explicit examples (corpus and covering set) and at
    least one drawn example: fewer means something checked nothing (and says what ran)."""
    if tally.examples < explicit + 1:
        tally.last = None  # no example failed: there is nothing to reproduce
        raise PropertyFailure(
            f"{prop.name} ran {tally.examples} examples: fewer than its explicit examples "
            f"({explicit}: corpus and covering set) and one drawn example, so it verified "
            f"less than it claims"
        )
