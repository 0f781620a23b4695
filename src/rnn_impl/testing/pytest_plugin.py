"""The pytest plugin: the catalogue as tests, against the implementation under test.

Installed with the package (a ``pytest11`` entry point), so every pytest run of an environment
with rnn-impl loads it; loading it imports neither torch nor Hypothesis (they are imported when
a test asks for the catalogue), and it does nothing until one does.

Options: ``--rnn-impl module:attr`` (else ``$RNN_IMPL``, else rnn_impl:RNN), ``--rnn-kind``
(the torch module it imitates, else detected), ``--rnn-cell-impl``
(else ``$RNN_CELL_IMPL``, else rnn_impl:RNNCell) for the cell properties, ``--rnn-adapter``
(else ``$RNN_IMPL_ADAPTER``), ``--rnn-fix NAME=VALUE`` (repeatable: a constructor argument
held fixed; properties that draw their own are skipped), ``--rnn-expected-failures FILE``
(:mod:`rnn_impl.testing.expected`), ``--rnn-corpus FILE`` (a regression corpus whose recorded
failures every run replays first: :mod:`rnn_impl.testing.corpus`).

A test that takes the ``rnn_run`` argument is parametrised with every run of the catalogue
(property x device x dtype, :class:`rnn_impl.testing.session.Session`) and checks one::

    def test_property(rnn_run):
        rnn_run()

:func:`parametrize_catalogue` names the implementation (and adapter, fixed arguments, expected
failures) in the test file itself, in the spirit of scikit-learn's ``parametrize_with_checks``::

    from rnn_impl.testing import parametrize_catalogue

    @parametrize_catalogue("mypkg.rnn:MyRNN", adapter="mypkg.rnn:MyAdapter",
                           expected_failures="tests/rnn-expected-failures.txt")
    def test_my_rnn(rnn_run):
        rnn_run()

A session in which catalogue runs were collected but none ran (every one skipped) fails with
one line saying so: a run that checked nothing is not a pass.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from rnn_impl.testing import environment, expected, profiles
from rnn_impl.testing.environment import CELL_IMPL_ENV, IMPL_ENV

MARKER = "rnn_catalogue"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "rnn_impl", "rnn_impl: verify an implementation against torch's RNN, GRU, LSTM or a cell"
    )
    group.addoption(
        "--rnn-impl",
        default=None,
        help=f"implementation under test, module:attr (default ${environment.IMPL_ENV} or "
        "rnn_impl:RNN)",
    )
    group.addoption(
        "--rnn-kind",
        default=None,
        help="the torch module it imitates, e.g. lstm (default: detected, else rnn; see "
        "rnn-verify --kind)",
    )
    group.addoption(
        "--rnn-cell-impl",
        default=None,
        help=f"cell under test for the cell properties (default ${environment.CELL_IMPL_ENV} "
        "or rnn_impl:RNNCell)",
    )
    group.addoption(
        "--rnn-fix",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="hold a constructor argument fixed in the drawn configurations (repeatable); "
        "properties that draw their own are skipped",
    )
    group.addoption(
        "--rnn-expected-failures",
        default=None,
        metavar="FILE",
        help="runs known to fail, one per line with '# reason' (rnn_impl.testing.expected)",
    )
    group.addoption(
        "--rnn-corpus",
        default=None,
        metavar="FILE",
        help="a regression corpus (rnn_impl.testing.corpus): its recorded failures run first",
    )
    group.addoption(
        "--rnn-adapter",
        default=None,
        help=f"adapter for its parameter names, module:attr (default ${environment.ADAPTER_ENV})",
    )


def parametrize_catalogue(
    impl: str | None = None,
    *,
    adapter: str | None = None,
    kind: str | None = None,
    cell_impl: str | None = None,
    fix: dict[str, Any] | None = None,
    expected_failures: str | None = None,
    corpus: str | None = None,
    properties: list[str] | None = None,
    tiers: list[str] | None = None,
    layouts: list[str] | None = None,
    arguments: dict[str, str] | None = None,
    gate_order: str | None = None,
) -> Any:
    """Decorate a test that takes ``rnn_run``: it gets the whole catalogue, run against
    ``impl`` (``module:attr``; else the command line's ``--rnn-impl``, the environment or
    rnn_impl:RNN) of ``kind`` (else detected) with ``adapter``, the constructor arguments
    ``fix`` held fixed (validated
    as ``--rnn-fix``), the runs listed in the ``expected_failures`` file (relative to the
    pytest root) expected to fail, and the failures recorded in the ``corpus`` file (relative
    to the pytest root) replayed first; the cell properties check ``cell_impl``. As with
    ``rnn-verify``: ``properties`` (names, categories or tiers), ``tiers`` (default:
    numerics and behaviour for your own class, all for a drop-in), ``layouts``,
    ``arguments`` (torch's constructor argument -> the class's parameter, beyond names and
    aliases) and ``gate_order`` (``"ifog"``). Returns a pytest mark; imports nothing."""
    return getattr(pytest.mark, MARKER)(
        impl=impl,
        adapter=adapter,
        kind=kind,
        cell_impl=cell_impl,
        fix=dict(fix or {}),
        expected_failures=expected_failures,
        corpus=corpus,
        properties=list(properties or []),
        tiers=list(tiers or []),
        layouts=list(layouts or []),
        arguments=dict(arguments or {}),
        gate_order=gate_order,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker; register the suite's Hypothesis profiles before Hypothesis' plugin
    loads the one named by ``--hypothesis-profile`` (only when that option is given: otherwise
    nothing is imported here); read the files the command line names (a usage error if one is
    missing or malformed; a marker's files are read when its test is collected)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(impl, adapter, kind, cell_impl, fix, expected_failures, corpus, properties, "
        "tiers, layouts, arguments, gate_order): "
        "see rnn_impl.testing.parametrize_catalogue",
    )
    if config.getoption("hypothesis_profile", None) in profiles.PROFILES:
        profiles.register_profiles()
    listed, recorded = config.getoption("--rnn-expected-failures"), config.getoption("--rnn-corpus")
    try:  # the command line's files: a usage error before anything runs
        if listed:
            expected.load(_under(config, listed))
        if recorded:  # imports torch: only once a corpus is named
            from rnn_impl.testing import corpus

            corpus.load(_under(config, recorded))
    except ValueError as error:
        raise pytest.UsageError(f"rnn_impl: {error}") from None


def _settings(node: Any, config: pytest.Config) -> dict[str, Any]:
    """The implementation, adapter, fixed arguments, expected-failures and corpus files of a test:
    its ``parametrize_catalogue`` marker first, then the command line, then the environment."""
    mark = node.get_closest_marker(MARKER)
    given = dict(mark.kwargs) if mark is not None else {}
    impl = given.get("impl") or config.getoption("--rnn-impl")
    return {
        "explicit": bool(impl or os.environ.get(IMPL_ENV)),
        "impl": impl,
        "adapter": given.get("adapter") or config.getoption("--rnn-adapter"),
        "kind": given.get("kind") or config.getoption("--rnn-kind"),
        "cell_impl": given.get("cell_impl")
        or config.getoption("--rnn-cell-impl")
        or os.environ.get(CELL_IMPL_ENV),
        "fix": dict(given.get("fix") or {}),
        "fix_text": tuple(config.getoption("--rnn-fix")),
        "expected_failures": given.get("expected_failures")
        or config.getoption("--rnn-expected-failures"),
        "corpus": given.get("corpus") or config.getoption("--rnn-corpus"),
        "properties": tuple(given.get("properties") or ()),
        "tiers": tuple(given.get("tiers") or ()),
        "layouts": tuple(given.get("layouts") or ()),
        "arguments": tuple(f"{a}={p}" for a, p in (given.get("arguments") or {}).items()),
        "gate_order": given.get("gate_order"),
    }


_SESSIONS = pytest.StashKey[dict[tuple[Any, ...], Any]]()


def _session(config: pytest.Config, chosen: dict[str, Any]) -> Any:
    """The :class:`~rnn_impl.testing.session.Session` of a test's settings, built once per
    pytest session; one that cannot be built (an implementation that does not load, a
    malformed ``fix``, a missing or malformed file) is a usage error."""
    from rnn_impl.testing.session import SelectionError, Session

    key = tuple((k, repr(v)) for k, v in sorted(chosen.items()))
    built = config.stash.setdefault(_SESSIONS, {})
    if key not in built:
        try:
            built[key] = Session.from_options(
                impl=chosen["impl"],
                adapter=chosen["adapter"],
                kind=chosen["kind"],
                fix=chosen["fix"] or chosen["fix_text"],
                expected_failures=_under(config, chosen["expected_failures"]),
                corpus_file=_under(config, chosen["corpus"]),
                cell_impl=chosen["cell_impl"],
                cells=not chosen["explicit"],
                every_property=True,
                properties=chosen["properties"],
                tiers=chosen["tiers"],
                layouts=chosen["layouts"],
                arguments=chosen["arguments"],
                gate_order=chosen["gate_order"],
            )
            built[key] = built[key].probed()
        except SelectionError as error:
            raise pytest.UsageError(f"rnn_impl: {error}") from None
    return built[key]


def _under(config: pytest.Config, name: str | None) -> Any:
    """A file named relative to the pytest root (None stays None)."""
    return None if name is None else config.rootpath / name


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rnn_run" not in metafunc.fixturenames:
        return
    session = _session(metafunc.config, _settings(metafunc.definition, metafunc.config))
    runs = session.runs()
    metafunc.parametrize("rnn_run", runs, ids=[run.id for run in runs], indirect=True)


class RunFailed(AssertionError):
    """A catalogue run failed: its report block (the error, the minimal example, where it
    departs from torch and what it needs), as ``rnn-verify`` prints it."""


@pytest.fixture
def rnn_run(request: pytest.FixtureRequest) -> Any:
    """A callable that checks this test's run of the catalogue (the corpus's recorded failures
    for it first, when a corpus is named): skipped with the session's reason (a device this
    machine lacks, a cell property with no cell under test, ...); expected to fail where the
    expected-failures file lists it (strictly under the ``ci`` profile). A failure is reported
    as ``rnn-verify`` reports it (:class:`RunFailed`)."""
    run = request.param
    session = _session(request.config, _settings(request.node, request.config))

    def check() -> None:
        request.node.user_properties.append(("rnn_run", "skipped" if run.skip else "ran"))
        from rnn_impl.testing.cases import LAYOUTS
        from rnn_impl.testing.probe import INITIAL_STATE

        for what, (name, error) in zip(session.left_out(), session.unsupported.items()):
            if name in LAYOUTS or name == INITIAL_STATE:  # a dtype's runs are skipped, with it
                left = f"{what} (every probe raised {error})"
                request.node.user_properties.append(("rnn_unsupported", left))
        if run.skip is not None:
            pytest.skip(run.skip)
        name, run_settings = _profile()
        if run.listed is not None:
            note = expected.described(run.listed, session.expected_file)
            request.applymarker(pytest.mark.xfail(reason=note, strict=expected.strict(name)))
        verification = session.verify(run, run_settings, collect=True)
        if verification.failure is not None:
            from rnn_impl.testing.report import failure_block, result_of

            block = failure_block(result_of(run, verification))
            raise RunFailed(block) from verification.failure

    return check


def _profile() -> tuple[str, Any]:
    """The Hypothesis profile of a catalogue run, by name and settings: the active profile when
    one was chosen (``--hypothesis-profile``), else the suite's default (``$RNN_IMPL_PROFILE``,
    else ``ci`` under ``$CI``, else ``dev``), without loading it for the rest of the session."""
    from hypothesis import settings

    profiles.register_profiles()
    current = settings.get_current_profile_name()
    name = profiles.default_profile() if current == "default" else current
    return name, settings.get_profile(name)


_TALLY = {"seen": 0, "ran": 0}
"""Catalogue runs reported in this session (on xdist's controller: from every worker)."""
_UNSUPPORTED: set[str] = set()
"""The layouts probing left out, as reported with the runs."""


def pytest_sessionstart(session: pytest.Session) -> None:
    _TALLY.update(seen=0, ran=0)
    _UNSUPPORTED.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == "rnn_run":
            _TALLY["seen"] += 1
            _TALLY["ran"] += value == "ran"
        elif name == "rnn_unsupported":
            _UNSUPPORTED.add(str(value))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _UNSUPPORTED:
        terminalreporter.write_line(
            "rnn_impl: unsupported, left out of every catalogue run: "
            + "; ".join(sorted(_UNSUPPORTED))
            + " (layouts= of parametrize_catalogue to choose)"
        )


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
