"""The workflows tier's settings and reports: the compile backend checked before any work,
a missing compiler a skip with its reason, what Dynamo did counted, and an export failure
pointing at the user's line."""

from __future__ import annotations

import pytest
from hypothesis import settings

from rnn_impl.testing.environment import BACKEND_ENV
from rnn_impl.testing.report import cell, result_of
from rnn_impl.testing.session import SelectionError, Session


def test_an_unknown_backend_is_a_usage_error_before_any_work(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "nope")
    with pytest.raises(SelectionError, match=r"'nope' is no torch.compile backend .*aot_eager"):
        Session.from_options(tiers=["workflows"])


def test_inductor_without_a_cpp_compiler_is_a_skip_with_its_reason(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "inductor")
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CXX", raising=False)
    session = Session.from_options(properties=["compiled_close"], devices=["cpu"])
    (skip,) = {run.skip for run in session.runs()}
    assert skip is not None and "inductor needs a C++ compiler" in skip


def test_recompiles_and_graph_breaks_are_counted_and_reported():
    session = Session.from_options(
        impl="rnn_impl:GRU", properties=["compiled_close"], devices=["cpu"], dtypes=["float32"]
    )
    (run,) = session.live_runs()
    verification = session.verify(run, settings(max_examples=1, database=None))
    assert verification.counts["graph breaks"] == 0
    assert verification.counts["recompiles"] == verification.examples  # one per second length
    assert f"recompiles {verification.examples}" in cell(result_of(run, verification))


def test_a_static_export_failure_names_the_line_tracing_stopped_at():
    session = Session.from_options(
        impl="rnn_impl.testing.zoo.workflows:DataDependentSkip",
        properties=["exported"],
        devices=["cpu"],
        dtypes=["float32"],
    )
    (run,) = session.live_runs()
    verification = session.verify(run, settings(max_examples=1, database=None), collect=True)
    message = str(verification.failure)
    assert "torch.export.export failed with static shapes" in message
    assert "zoo/workflows.py:" in message and "if not bool(state.any()):" in message


@pytest.mark.parametrize(
    "impl, says",
    [
        (
            "rnn_impl.testing.zoo.workflows:CompiledStepDropsBias",
            "only the compiled module differs",
        ),
        ("rnn_impl.testing.zoo.bugs:MissingBias", "eager mode differs from nn.RNN too"),
    ],
    ids=["compile-only", "eager-too"],
)
def test_a_compiled_failure_says_whether_eager_mode_differs_too(impl, says):
    session = Session.from_options(
        impl=impl, properties=["compiled_close"], devices=["cpu"], dtypes=["float32"]
    )
    (run,) = session.live_runs()
    verification = session.verify(run, settings(max_examples=1, database=None), collect=True)
    assert says in str(verification.failure)


@pytest.mark.parametrize(
    "bug", ["CompiledStepDropsBias", "CompiledFirstLength", "DataDependentSkip"]
)
@pytest.mark.parametrize("prop", ["output_exact", "output_close"])
def test_the_tiers_bugs_are_right_in_eager_mode(bug, prop):
    """They show only compiled or exported: eager mode is bit-identical to torch's."""
    session = Session.from_options(
        impl=f"rnn_impl.testing.zoo.workflows:{bug}", properties=[prop], dtypes=["float32"]
    )
    (run,) = session.live_runs()
    verification = session.verify(run, settings(max_examples=5, database=None), collect=True)
    assert not verification.failed, verification.headline
