"""The zoo against the catalogue: every planted bug is killed by the property designed for
it, every property is designed to kill some bug, and correct implementations are killed by
none. (The full bug x property matrix: ``python -m rnn_impl.testing.zoo``.)"""

from __future__ import annotations

import pytest
from hypothesis import settings

from rnn_impl.testing.kinds import KINDS
from rnn_impl.testing.properties import BY_NAME, CATALOGUE
from rnn_impl.testing.zoo import CONTROLS, FOREIGN, ZOO
from rnn_impl.testing.zoo.matrix import without_shrinking

CI_PROFILE = settings.get_profile("ci")
COVERING_PROFILE = settings.get_profile("covering")
"""Correct implementations run their covering rows and one draw here (the rows are the same in
every run); their draws are what the false-alarm campaign measures, with independent seeds
(docs/false-alarms.md)."""


@pytest.mark.parametrize("bug", ZOO, ids=lambda b: b.label)
def test_bug_is_killed_by_its_property(bug):
    """Killed in the ci run; and, coverage by construction, on one of the property's covering
    examples (which run first, unshrunk), not by the luck of the random search."""
    prop = BY_NAME[bug.caught_by]
    session = bug.session(prop)
    verification = session.verify(session.home_runs()[0], without_shrinking(CI_PROFILE))
    assert verification.failure is not None, f"{bug.label} survived {bug.caught_by}: {bug.mistake}"
    implementation = session.implementations[0]
    fixed = implementation.fixed_arguments()
    covering = prop.covering(*prop.home, session.layouts, fixed, implementation.takes_state)
    assert verification.last in covering, f"{bug.label}: only the random search killed it"


def test_every_property_is_meant_to_kill_some_bug():
    meant = {bug.caught_by for bug in ZOO}
    idle = [p.name for p in CATALOGUE if p.name not in meant]
    assert not idle, f"properties no zoo bug is planted for: {idle}"


def test_zoo_is_large_enough():
    kinds = [b.implementation().kind.name for b in ZOO]
    least = dict(zip(KINDS, (20, 4, 5, 3, 1, 1)))
    assert {kind: min(kinds.count(kind), n) for kind, n in least.items()} == least
    assert all(bug.mistake for bug in ZOO), "every bug documents its mistake"


@pytest.mark.parametrize(
    "control, prop",
    [(c, p) for c in CONTROLS for p in CATALOGUE if p.cells == c.implementation().is_cell],
    ids=lambda x: getattr(x, "label", getattr(x, "name", str(x))),
)
def test_controls_are_killed_by_nothing(control, prop):
    """Nothing but what a control fails by design (``Bug.xfail``, with its reason: torch's
    modules are not compiled by Dynamo), which must then fail."""
    session = control.session(prop)
    verdict = session.verify(session.home_runs()[0], without_shrinking(COVERING_PROFILE))
    if prop.name in control.xfail:
        assert verdict.failed, f"{control.label} passed {prop.name}: {control.xfail[prop.name]}"
        return
    assert not verdict.failed, f"{control.label} failed {prop.name}: {verdict.headline}"


FOREIGN_RUNS = [
    (control, prop)
    for control in FOREIGN
    for prop in CATALOGUE
    if prop.verifies(control.implementation().kind) and prop.tier != "drop-in"
]


@pytest.mark.parametrize(
    "control, prop", FOREIGN_RUNS, ids=lambda x: getattr(x, "label", getattr(x, "name", str(x)))
)
def test_foreign_controls_pass_every_property_but_the_drop_in_tier(control, prop):
    """Correct implementations that sum in other orders than ATen's (a notebook loop, a fused
    GEMM, nn.Linear layers, ...) pass every property but the bit-exact and drop-in ones,
    compiled and exported too, at each property's home, on its covering rows (every dtype and
    random draws: docs/false-alarms.md)."""
    session = control.session(prop)
    verdict = session.verify(session.home_runs()[0], without_shrinking(COVERING_PROFILE))
    assert not verdict.failed, f"{control.label} failed {prop.name}: {verdict.headline}"


@pytest.mark.parametrize("control", FOREIGN, ids=lambda c: c.label)
def test_foreign_controls_really_sum_in_another_order(control):
    """A foreign control that were bit-identical to torch would prove nothing: the bit-exact
    property tells each from torch's module (Float64RNN rounds less; the others add in
    another order)."""
    exact = "cell_output_exact" if control.implementation().is_cell else "output_exact"
    session = control.session(BY_NAME[exact])
    assert session.verify(session.home_runs()[0], without_shrinking(CI_PROFILE)).failed
