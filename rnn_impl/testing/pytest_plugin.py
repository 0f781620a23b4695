"""The pytest plugin: the catalogue as tests, against the implementation under test.

Options: ``--rnn-impl module:attr`` (else ``$RNN_IMPL``, else rnn_impl:RNN), ``--rnn-cell-impl``
(else ``$RNN_CELL_IMPL``, else rnn_impl:RNNCell) for the cell properties, ``--rnn-adapter``
(else ``$RNN_IMPL_ADAPTER``), ``--rnn-fix NAME=VALUE`` (repeatable: a constructor argument
held fixed; properties that draw their own are skipped).

A test that takes the ``rnn_run`` argument is parametrised with every run of the catalogue
(property x device x dtype, :func:`rnn_impl.testing.plan.plan`) and checks one::

    def test_property(rnn_run):
        rnn_run()

A session in which catalogue runs were collected but none ran (every one skipped) fails with
one line saying so: a run that checked nothing is not a pass. Loading the plugin imports
neither torch nor Hypothesis: they are imported when a test asks for the catalogue.
"""

from __future__ import annotations

from typing import Any

import pytest

from rnn_impl.testing import environment, profiles


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rnn_impl", "rnn_impl: verify an RNN against torch.nn.RNN")
    group.addoption(
        "--rnn-impl",
        default=None,
        help=f"implementation under test, module:attr (default ${environment.IMPL_ENV} or "
        f"{environment.DEFAULT_IMPL})",
    )
    group.addoption(
        "--rnn-cell-impl",
        default=None,
        help=f"RNNCell under test for the cell properties (default "
        f"${environment.CELL_IMPL_ENV} or {environment.DEFAULT_CELL_IMPL})",
    )
    group.addoption(
        "--rnn-fix",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="hold an nn.RNN constructor argument fixed in the drawn configurations "
        "(repeatable); properties that draw their own are skipped",
    )
    group.addoption(
        "--rnn-adapter",
        default=None,
        help=f"adapter for its parameter names, module:attr (default ${environment.ADAPTER_ENV})",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's Hypothesis profiles before Hypothesis' plugin loads the one named
    by ``--hypothesis-profile`` (only when that option is given: otherwise nothing is
    imported here)."""
    if config.getoption("hypothesis_profile", None) in profiles.PROFILES:
        profiles.register_profiles()


def pytest_report_header(config: pytest.Config) -> list[str]:
    impl = environment.subject_spec(config.getoption("--rnn-impl"))
    return [f"rnn_impl: implementation under test {impl}"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rnn_run" not in metafunc.fixturenames:
        return
    from rnn_impl.testing.cases import parse_fixed
    from rnn_impl.testing.plan import plan
    from rnn_impl.testing.properties import CATALOGUE

    try:
        fixed = parse_fixed(metafunc.config.getoption("--rnn-fix"))
    except ValueError as error:
        raise pytest.UsageError(f"--rnn-fix: {error}") from None
    runs = plan(CATALOGUE, fixed=fixed)
    metafunc.parametrize("rnn_run", runs, ids=[run.id for run in runs], indirect=True)


@pytest.fixture(scope="session")
def rnn_subject(pytestconfig: pytest.Config) -> Any:
    """The implementation under test (``--rnn-impl``, ``--rnn-adapter``)."""
    from rnn_impl.testing.oracle import load_subject

    return load_subject(
        pytestconfig.getoption("--rnn-impl"), pytestconfig.getoption("--rnn-adapter")
    )


@pytest.fixture(scope="session")
def rnn_cell_subject(pytestconfig: pytest.Config) -> Any:
    """The RNNCell under test (``--rnn-cell-impl``)."""
    from rnn_impl.testing.oracle import load_subject

    return load_subject(pytestconfig.getoption("--rnn-cell-impl"), kind="cell")


@pytest.fixture(scope="session")
def rnn_fixed(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Constructor arguments held fixed (``--rnn-fix NAME=VALUE``)."""
    from rnn_impl.testing.cases import parse_fixed

    return parse_fixed(pytestconfig.getoption("--rnn-fix"))


@pytest.fixture
def rnn_run(request: pytest.FixtureRequest, rnn_fixed: dict[str, Any]) -> Any:
    """A callable that checks this test's run of the catalogue (skipping it with the
    planner's reason, or where the implementation is of the other kind)."""
    from rnn_impl.testing.plan import kind_mismatch
    from rnn_impl.testing.runner import verify

    run = request.param
    chosen = request.getfixturevalue(
        "rnn_cell_subject" if run.prop.kind == "cell" else "rnn_subject"
    )

    def check() -> None:
        reason = run.skip or kind_mismatch(run.prop, chosen)
        request.node.user_properties.append(("rnn_run", "skipped" if reason else "ran"))
        if reason is not None:
            pytest.skip(reason)
        _load_default_profile()
        verify(run.prop, chosen, run.device, run.dtype, fixed=rnn_fixed)

    return check


def _load_default_profile() -> None:
    """The active Hypothesis profile, unless one was chosen: ``$RNN_IMPL_PROFILE``, else
    ``ci`` under ``$CI``, else ``dev``."""
    from hypothesis import settings

    profiles.register_profiles()
    if settings.get_current_profile_name() == "default":
        settings.load_profile(profiles.default_profile())


_TALLY = {"seen": 0, "ran": 0}
"""Catalogue runs reported in this session (on xdist's controller: from every worker)."""


def pytest_sessionstart(session: pytest.Session) -> None:
    _TALLY.update(seen=0, ran=0)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == "rnn_run":
            _TALLY["seen"] += 1
            _TALLY["ran"] += value == "ran"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _TALLY["seen"] and not _TALLY["ran"] and exitstatus == pytest.ExitCode.OK:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        line = (
            f"rnn_impl: nothing was verified: all {_TALLY['seen']} catalogue runs were skipped "
            "(see the skip reasons)"
        )
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(line, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
