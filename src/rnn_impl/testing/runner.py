"""Running one property through Hypothesis: shared by pytest and ``rnn-verify``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import hypothesis
import hypothesis.reporting
import hypothesis.strategies as st
import torch
from hypothesis import Phase, event, example, given, settings, target

from rnn_impl.testing import devices
from rnn_impl.testing.exceptions import PropertyFailure
from rnn_impl.testing.oracle import Implementation
from rnn_impl.testing.properties import Property
from rnn_impl.testing.properties._core import ZERO, Measure
from rnn_impl.testing.strategies import NEAR, Example, SizeLimits


@dataclass
class Verification:
    """What :func:`verify` saw: the examples it ran, how many of them were too
    ill-conditioned to judge (:func:`~rnn_impl.testing.tolerances.judge`), the largest error
    (``worst``; its ``normalised`` 1.0 is the bound), what the examples counted (``counts``:
    their :attr:`~rnn_impl.testing.properties._core.Measure.counts`, summed), and, when it
    failed, the exception (``failure``) and the (minimal) example it failed on (``last``)."""

    examples: int = 0
    ill_conditioned: int = 0
    worst: Measure = ZERO
    counts: Counter[str] = field(default_factory=Counter)
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
    implementation: Implementation,
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
    limits: tuple[SizeLimits, ...] = (NEAR,),
) -> Verification:
    """Check ``prop`` on the examples of ``replay`` (a regression corpus's:
    :func:`rnn_impl.testing.corpus.replay`), then on its covering set
    (:meth:`Property.covering`; both explicit examples that Hypothesis runs first, in every
    profile), then on examples drawn by Hypothesis (only ``layouts``, and configurations with
    the constructor arguments ``fixed``, when given).

    The minimal failure found is raised, or with ``collect`` recorded in the returned verification
    (``failure``, and ``last``: the example it failed on) with Hypothesis' own report muted.

    A search campaign (:mod:`rnn_impl.testing.search`) passes ``covering=False`` (the gate runs
    the covering set), ``limits=(NEAR, FAR)`` (about half its draws go far:
    :class:`~rnn_impl.testing.strategies.SizeLimits`) and a ``database_key`` for
    the run, under which the example database of ``run_settings`` keeps its failures (without
    it Hypothesis would key every run by the one function below).

    Example::

        >>> from hypothesis import settings
        >>> from rnn_impl.testing import BY_NAME, load_implementation
        >>> verification = verify(
        ...     BY_NAME["repr"], load_implementation("rnn_impl:RNN"), "cpu", torch.float32,
        ...     settings(max_examples=3), collect=True,
        ... )
        >>> verification.failed, verification.examples > 3
        (False, True)
    """
    verification = Verification()
    fixed = implementation.fixed_arguments(fixed)
    own = implementation.implied_arguments()
    replay = [replace(e, config=replace(e.config, **own)) for e in replay]
    if not implementation.takes_state:
        replay = [replace(e, case=replace(e.case, with_h0=False)) for e in replay]
    if device == "cuda":
        devices.deterministic_cuda()

    def check(example: Example) -> None:
        verification.examples += 1
        verification.last = example
        measure = prop.check(implementation, example)
        if measure is not None:
            target(measure.normalised, label=f"{prop.name} normalised error")
            verification.worst = max(verification.worst, measure)
            verification.counts.update(dict(measure.counts))
            if not measure.conditioned:
                verification.ill_conditioned += 1
                event("too ill-conditioned to judge")

    if database_key is not None:
        check._hypothesis_internal_add_digest = database_key  # type: ignore[attr-defined]
    if not limits:
        raise ValueError("verify(limits=()): give at least one SizeLimits (strategies.NEAR)")
    state = implementation.takes_state
    drawn = [prop.strategy(device, dtype, layouts, fixed, bound, state) for bound in limits]
    test = given(st.one_of(drawn) if len(drawn) > 1 else drawn[0])(check)
    rows = prop.covering(device, dtype, layouts, fixed, state) if covering else []
    explicit = [*replay, *rows]
    for row in reversed(explicit):
        test = example(row)(test)
    # one failure, the first failing explicit row or the shrunk one, reported last
    chosen = settings(run_settings or settings(), report_multiple_bugs=False)
    if prop.examples is not None and chosen.max_examples > prop.examples:
        chosen = settings(chosen, max_examples=prop.examples)
    test = chosen(test)
    if Phase.explicit not in chosen.phases:
        explicit = []
    if seed is not None:
        test = hypothesis.seed(seed)(test)
    if not collect:
        test()
        _require_examples(prop, verification, len(explicit))
        return verification
    with hypothesis.reporting.with_reporter(lambda _text: None):
        try:
            test()
            _require_examples(prop, verification, len(explicit))
        except Exception as exc:  # Hypothesis replayed the failing example last
            verification.failure = exc
    return verification


def _require_examples(prop: Property, verification: Verification, explicit: int) -> None:
    """A run that passed must have run its explicit examples (corpus and covering set) and at
    least one drawn example: fewer means something checked nothing (and says what ran)."""
    if verification.examples < explicit + 1:
        verification.last = None  # no example failed: there is nothing to reproduce
        raise PropertyFailure(
            f"{prop.name} ran {verification.examples} examples: fewer than its explicit examples "
            f"({explicit}: corpus and covering set) and one drawn example, so it verified "
            f"less than it claims"
        )
