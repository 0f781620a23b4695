"""The one selection every front end builds: which runs, against which implementation, with
which skip reason, expected failure and corpus examples."""

from __future__ import annotations

import pytest
import torch

from rnn_impl.testing import corpus
from rnn_impl.testing.cases import InputCase, ModuleConfig
from rnn_impl.testing.properties import BY_NAME, CATALOGUE, TIERS
from rnn_impl.testing.session import SelectionError, Session
from rnn_impl.testing.strategies import Example
from rnn_impl.testing.tiers import DROP_IN_TIERS


def live(session):
    return [run.id for run in session.runs() if run.skip is None]


def test_the_default_is_the_drop_in_rnn_with_every_module_property_but_opt_in_ones():
    session = Session.from_options()
    (implementation,) = session.implementations
    assert implementation.name == "rnn_impl:RNN" and implementation.kind.name == "rnn"
    held = tuple(p for p in CATALOGUE if not p.cells and p.tier in DROP_IN_TIERS)
    assert session.properties == held
    skipped = {run.skip for run in session.runs() if run.skip}
    if not torch.cuda.is_available():
        assert "no cuda device on this machine" in skipped


@pytest.mark.parametrize(
    "names, expected",
    [
        (["output_close"], {"output_close"}),
        (["laws"], {p.name for p in CATALOGUE if p.category == "laws"}),
        (["numerics"], {p.name for p in CATALOGUE if p.tier == "numerics" and not p.cells}),
        (["drop-in", "repr"], {p.name for p in CATALOGUE if p.tier == "drop-in" and not p.cells}),
    ],
    ids=["name", "category", "tier", "tier-and-name"],
)
def test_properties_are_named_by_name_category_or_tier(names, expected):
    session = Session.from_options(properties=names)
    assert {p.name for p in session.properties} == expected


USER_CLASS = "rnn_impl.testing.zoo.foreign:NotebookRNN"


@pytest.mark.parametrize(
    "impl, tiers, expected",
    [
        (USER_CLASS, None, ("numerics", "behaviour")),
        (USER_CLASS, ["all"], TIERS),
        (USER_CLASS, ["drop-in"], ("drop-in",)),
        (USER_CLASS, ["workflows"], ("workflows",)),
        ("rnn_impl:GRU", None, DROP_IN_TIERS),
        ("torch.nn:LSTM", None, DROP_IN_TIERS),
        ("rnn_impl.testing.zoo.bugs:MissingBias", None, DROP_IN_TIERS),
    ],
    ids=["user-class", "all", "one-tier", "opt-in-tier", "drop-in", "torch", "drop-in-subclass"],
)
def test_a_users_class_is_held_to_numerics_and_behaviour_a_drop_in_to_all(impl, tiers, expected):
    """The opt-in workflows tier is held only when asked for."""
    session = Session.from_options(impl=impl, tiers=tiers)
    assert session.tiers == expected
    assert {p.tier for p in session.properties} == set(expected)


def test_named_properties_are_kept_whatever_their_tier_unless_tiers_are_given():
    named = Session.from_options(impl=USER_CLASS, properties=["repr", "output_close"])
    assert [p.name for p in named.properties] == ["output_close", "repr"]
    both = Session.from_options(
        impl=USER_CLASS, properties=["repr", "output_close"], tiers=["numerics"]
    )
    assert [p.name for p in both.properties] == ["output_close"]
    with pytest.raises(
        SelectionError, match="no property of \\['repr'\\] is in the tiers numerics"
    ):
        Session.from_options(impl=USER_CLASS, properties=["repr"], tiers=["numerics"])


def test_every_property_is_in_exactly_one_tier_and_judged_one_way():
    assert all(p.tier in TIERS for p in CATALOGUE)
    for tier in TIERS:
        chosen = {p.name for p in Session.from_options(properties=[tier], cells=True).properties}
        assert chosen <= {p.name for p in CATALOGUE if p.tier == tier}
    assert {p.name for p in CATALOGUE if p.exact} == {
        p.name
        for p in CATALOGUE
        if p.name.endswith("_exact") or p.name in ("autocast", "initialisation")
    }


@pytest.mark.parametrize(
    "options, message",
    [
        ({"properties": ["nope"]}, "unknown property, category or tier 'nope'"),
        ({"properties": ["output_closee"]}, "did you mean 'output_close'?"),
        ({"devices": ["tpu"]}, "unknown device 'tpu'"),
        ({"dtypes": ["float8"]}, "unknown dtype 'float8'"),
        ({"kind": "cell"}, "unknown kind 'cell'"),
        (
            {"impl": "rnn_impl:GRU", "fix": ["nonlinearity=relu"]},
            "nn.GRU look-alike: it has no nonlinearity",
        ),
        (
            {"properties": ["cell_errors"]},
            "these properties verify a cell: cell_errors (if it is a cell: --kind rnn_cell)",
        ),
        ({"impl": "no_such_module:X"}, "cannot import 'no_such_module'"),
        ({"fix": ["num_layers=two"]}, "'two' is not a valid int"),
    ],
    ids=str,
)
def test_a_selection_that_cannot_be_made_says_why(options, message):
    with pytest.raises(SelectionError) as error:
        Session.from_options(**options)
    assert message in str(error.value)


def test_narrowing_skips_with_a_reason():
    session = Session.from_options(
        properties=["streaming", "unbatched_is_batch_of_one"],
        layouts=["batched"],
        fix=["bidirectional=true"],
        devices=["cpu"],
    )
    reasons = {run.prop.name: run.skip for run in session.runs()}
    assert reasons == {
        "streaming": "streaming draws its own bidirectional",
        "unbatched_is_batch_of_one": "unbatched_is_batch_of_one needs the unbatched layout",
    }


def test_the_plugin_holds_both_shapes_and_skips_a_shape_without_implementation():
    module_only = Session.from_options(impl="torch.nn:RNN", every_property=True)
    cells = {run.skip for run in module_only.runs() if run.prop.cells}
    assert cells == {"no cell under test (name one: --rnn-cell-impl, or cell_impl= of the marker)"}
    both = Session.from_options(every_property=True, cells=True)
    kinds = {run.prop.name: run.implementation.kind.name for run in both.runs() if run.skip is None}
    assert kinds["cell_output_close"] == "rnn_cell" and kinds["output_close"] == "rnn"
    cell_only = Session.from_options(impl="torch.nn:GRUCell", every_property=True)
    reason = next(run.skip for run in cell_only.runs() if run.prop.name == "output_close")
    assert (
        reason == "torch.nn:GRUCell imitates nn.GRUCell; output_close verifies a recurrent module"
    )


def test_expected_failures_attach_to_their_runs_and_a_typo_is_refused(tmp_path):
    listed = tmp_path / "expected.txt"
    listed.write_text("repr-*  # its own repr\noutput_close-cuda-*  # on a GPU only\n")
    session = Session.from_options(expected_failures=listed, devices=["cpu"])
    marked = {run.id: run.listed.reason for run in session.runs() if run.listed}
    assert marked == {"repr-cpu-float32": "its own repr"}
    listed.write_text("repr-*  # fine\nparamters-*  # a typo\n")
    with pytest.raises(SelectionError, match=r"expected.txt:2: 'paramters-\*' matches no run"):
        Session.from_options(expected_failures=listed)


def test_corpus_examples_attach_to_their_runs(tmp_path):
    example = Example(ModuleConfig(2, 3), InputCase(seed=5), "cpu", torch.float64)
    recorded = tmp_path / "corpus.json"
    corpus.save(recorded, [corpus.failure_of("output_close", example, "x:Y", "headline")])
    session = Session.from_options(properties=["output_close"], corpus_file=recorded)
    replays = {run.id: run.replay for run in session.runs() if run.replay}
    assert replays == {"output_close-cpu-float64": (example,)}


def test_home_runs_are_one_per_property_where_the_zoo_checks_it():
    session = Session.from_options(properties=["shapes_large_meta", "gradcheck", "output_close"])
    homes = [(run.prop.name, run.device, run.dtype) for run in session.home_runs()]
    assert homes == [
        ("output_close", "cpu", torch.float32),
        ("gradcheck", "cpu", torch.float64),
        ("shapes_large_meta", "meta", torch.float32),
    ]


def test_a_skipped_run_is_not_verified():
    session = Session.from_options(properties=["output_close"], devices=["cuda"])
    (run, *_) = session.runs()
    if run.skip is None:
        pytest.skip("this machine has a cuda device")
    with pytest.raises(ValueError, match="does not run here"):
        session.verify(run)


def test_verify_runs_a_property_through_the_session():
    session = Session.from_options(properties=[BY_NAME["repr"].name])
    (run,) = [r for r in session.runs() if r.skip is None]
    from hypothesis import settings

    verification = session.verify(run, settings(max_examples=2))
    assert verification.failure is None and verification.examples >= 2
