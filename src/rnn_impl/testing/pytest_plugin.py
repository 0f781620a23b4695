"""The pytest plugin: the catalogue as tests, against the implementation under test.

Installed with the package (a ``pytest11`` entry point), so every pytest run of an environment
with rnn-impl loads it; loading it imports neither torch nor Hypothesis (they are imported when
a test asks for the catalogue), and it does nothing until one does.

Options: ``--rnn-impl module:attr`` (else ``$RNN_IMPL``, else rnn_impl:RNN), ``--rnn-cell-impl``
(else ``$RNN_CELL_IMPL``, else rnn_impl:RNNCell) for the cell properties, ``--rnn-adapter``
(else ``$RNN_IMPL_ADAPTER``), ``--rnn-fix NAME=VALUE`` (repeatable: a constructor argument
held fixed; properties that draw their own are skipped), ``--rnn-expected-failures FILE``
(:mod:`rnn_impl.testing.expected`), ``--rnn-corpus FILE`` (a regression corpus whose recorded
failures every run replays first: :mod:`rnn_impl.testing.corpus`).

A test that takes the ``rnn_run`` argument is parametrised with every run of the catalogue
(property x device x dtype, :func:`rnn_impl.testing.plan.plan`) and checks one::

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

from rnn_impl.testing import environment, profiles
from rnn_impl.testing.environment import CELL_IMPL_ENV, IMPL_ENV

MARKER = "rnn_catalogue"


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
    cell_impl: str | None = None,
    fix: dict[str, Any] | None = None,
    expected_failures: str | None = None,
    corpus: str | None = None,
) -> Any:
    """Decorate a test that takes ``rnn_run``: it gets the whole catalogue, run against
    ``impl`` (``module:attr``; else the command line's ``--rnn-impl``, the environment or
    rnn_impl:RNN) with ``adapter``, the constructor arguments ``fix`` held fixed (validated
    as ``--rnn-fix``), the runs listed in the ``expected_failures`` file (relative to the
    pytest root) expected to fail, and the failures recorded in the ``corpus`` file (relative
    to the pytest root) replayed first; the cell properties check ``cell_impl``. Returns a
    pytest mark; imports nothing."""
    return getattr(pytest.mark, MARKER)(
        impl=impl,
        adapter=adapter,
        cell_impl=cell_impl,
        fix=dict(fix or {}),
        expected_failures=expected_failures,
        corpus=corpus,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker; register the suite's Hypothesis profiles before Hypothesis' plugin
    loads the one named by ``--hypothesis-profile`` (only when that option is given: otherwise
    nothing is imported here); check an ``--rnn-expected-failures`` file (a usage error if it
    is missing or a line has no reason) and an ``--rnn-corpus`` file (a usage error if it is
    missing or not a corpus; a marker's files are checked at collection)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(impl, adapter, cell_impl, fix, expected_failures, corpus): "
        "see rnn_impl.testing.parametrize_catalogue",
    )
    if config.getoption("hypothesis_profile", None) in profiles.PROFILES:
        profiles.register_profiles()
    if config.getoption("--rnn-expected-failures"):
        _expected(config, config.getoption("--rnn-expected-failures"))
    if config.getoption("--rnn-corpus"):
        _corpus(config, config.getoption("--rnn-corpus"))


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
        "cell_impl": given.get("cell_impl")
        or config.getoption("--rnn-cell-impl")
        or os.environ.get(CELL_IMPL_ENV),
        "fix": given.get("fix") or None,
        "fix_text": config.getoption("--rnn-fix"),
        "expected_failures": given.get("expected_failures")
        or config.getoption("--rnn-expected-failures"),
        "corpus": given.get("corpus") or config.getoption("--rnn-corpus"),
    }


def _fixed(chosen: dict[str, Any]) -> dict[str, Any]:
    """The fixed constructor arguments, from the marker or ``--rnn-fix``, validated alike."""
    from rnn_impl.testing.cases import parse_fixed

    if chosen["fix"]:
        return parse_fixed(
            [
                f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                for k, v in chosen["fix"].items()
            ]
        )
    return parse_fixed(chosen["fix_text"])


_FILES = pytest.StashKey[dict[tuple[str, str], list[Any]]]()


def _read_once(config: pytest.Config, what: str, name: str) -> list[Any]:
    """The entries of the ``what`` file ``name`` (relative to the pytest root): ``"expected
    failures"`` (:mod:`rnn_impl.testing.expected`) or ``"corpus"``
    (:mod:`rnn_impl.testing.corpus`), read once per session; a file that is missing or
    malformed is a usage error."""
    read = config.stash.setdefault(_FILES, {})
    if (what, name) not in read:
        try:
            read[what, name] = _reader(what)(config.rootpath / name)
        except (OSError, ValueError) as error:
            raise pytest.UsageError(f"rnn_impl: {what}: {error}") from None
    return read[what, name]


def _reader(what: str) -> Any:
    if what == "corpus":  # imports torch: only once a corpus is named
        from rnn_impl.testing import corpus

        return corpus.read
    from rnn_impl.testing import expected

    return expected.read


def _expected(config: pytest.Config, name: str) -> list[Any]:
    return _read_once(config, "expected failures", name)


def _corpus(config: pytest.Config, name: str) -> list[Any]:
    return _read_once(config, "corpus", name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rnn_run" not in metafunc.fixturenames:
        return
    from rnn_impl.testing.plan import plan
    from rnn_impl.testing.properties import CATALOGUE

    chosen = _settings(metafunc.definition, metafunc.config)
    try:
        fixed = _fixed(chosen)
    except ValueError as error:
        raise pytest.UsageError(f"rnn_impl: fix: {error}") from None
    if chosen["expected_failures"]:
        _expected(metafunc.config, chosen["expected_failures"])
    if chosen["corpus"]:
        _corpus(metafunc.config, chosen["corpus"])
    runs = plan(CATALOGUE, fixed=fixed)
    metafunc.parametrize("rnn_run", runs, ids=[run.id for run in runs], indirect=True)


@pytest.fixture(scope="session")
def rnn_subjects() -> dict[tuple[Any, ...], Any]:
    """The implementations under test loaded so far, by (spec, adapter, kind)."""
    return {}


def _subject(
    cache: dict[tuple[Any, ...], Any], spec: str | None, adapter: str | None, kind: str
) -> Any:
    """The implementation under test, loaded once per session; one that cannot be loaded is a
    usage error."""
    from rnn_impl.testing.oracle import SubjectError, load_subject

    key = (spec, adapter, kind)
    if key not in cache:
        try:
            cache[key] = load_subject(spec, adapter, kind=kind)
        except SubjectError as error:
            raise pytest.UsageError(f"rnn_impl: {error}") from None
    return cache[key]


@pytest.fixture
def rnn_run(request: pytest.FixtureRequest, rnn_subjects: dict[tuple[Any, ...], Any]) -> Any:
    """A callable that checks this test's run of the catalogue (the corpus's recorded failures
    for it first, when a corpus is named): skipped with the planner's
    reason, or where the implementation is of the other kind (the cell runs check the RNNCell
    named, else the implementation under test when it is a cell, else the drop-in's unless an
    RNN was named); expected to fail where the expected-failures file says so (strictly under
    the ``ci`` profile)."""
    from rnn_impl.testing import corpus, devices, expected
    from rnn_impl.testing.oracle import SubjectError
    from rnn_impl.testing.plan import kind_mismatch
    from rnn_impl.testing.runner import verify

    run = request.param
    chosen = _settings(request.node, request.config)
    subject = _subject(rnn_subjects, chosen["impl"], chosen["adapter"], "rnn")
    reason = None
    if run.prop.kind == "cell" and not subject.is_cell:
        if chosen["cell_impl"] or not chosen["explicit"]:
            subject = _subject(rnn_subjects, chosen["cell_impl"], None, "cell")
        else:
            reason = "no cell under test (--rnn-cell-impl, or cell_impl=)"
    fixed = _fixed(chosen)
    try:
        subject.holding(fixed)
    except SubjectError as error:
        raise pytest.UsageError(f"rnn_impl: {error}") from None
    listed = None
    if chosen["expected_failures"]:
        listed = expected.matching(_expected(request.config, chosen["expected_failures"]), run.id)

    def check() -> None:
        why = reason or run.skip or kind_mismatch(run.prop, subject)
        request.node.user_properties.append(("rnn_run", "skipped" if why else "ran"))
        if why is not None:
            pytest.skip(why)
        name, run_settings = _profile()
        if listed is not None:
            note = (
                f"expected to fail ({chosen['expected_failures']}:{listed.line}: {listed.reason})"
            )
            request.applymarker(pytest.mark.xfail(reason=note, strict=name == "ci"))
        recorded = _corpus(request.config, chosen["corpus"]) if chosen["corpus"] else []
        replay = corpus.replay(recorded, run.prop.name, run.device, devices.dtype_name(run.dtype))
        verify(run.prop, subject, run.device, run.dtype, run_settings, fixed=fixed, replay=replay)

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
