"""This repository's pytest wiring (the rnn_impl plugin itself loads through its entry point,
as in any project with the package installed): Hypothesis profiles, thread caps under xdist,
the torch version a tox leg expects, that the wheel leg imports the wheel, which tests run on
one torch leg only (``ONCE``) and which only outside the local loop (``SLOW``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import settings

import rnn_impl
from rnn_impl.testing import devices, environment, profiles
from rnn_impl.testing.parallel import WORKERS_ENV

profiles.register_profiles()
settings.load_profile(profiles.default_profile())

# Tests whose outcome cannot depend on the torch version (the zoo's kill matrix, power and
# campaigns, binding a user's class, the CLI, plugin and search end to end, corpus, report,
# strategies, covering arrays, the session and the layout of the code): marked ``once``; tox
# runs them on the wheel leg only (tox.ini's header states the rule). What can differ between
# versions (the drop-ins' parity and exactness, the catalogue against torch's modules, errors,
# the float64 re-run the tolerances rest on) runs on every leg.
ONCE = (
    "tests/zoo/",
    "tests/test_binding.py",
    "tests/test_cases.py",
    "tests/test_cli.py",
    "tests/test_command.py",
    "tests/test_corpus.py",
    "tests/test_covering.py",
    "tests/test_expected.py",
    "tests/test_kinds.py",
    "tests/test_layout.py",
    "tests/test_legs.py",
    "tests/test_notebook.py",
    "tests/test_plugin_project.py",
    "tests/test_report.py",
    "tests/test_runner.py",
    "tests/test_search.py",
    "tests/test_session.py",
    "tests/test_strategies.py",
    "tests/test_tolerances.py",
    "tests/test_truthful.py",
    # torch's own results against the spread, on every covering row (the zoo's controls did it)
    "tests/test_sensitivity.py::test_torchs_own_results_are_within",
)

# The local loop (`pytest -n auto`: pyproject's addopts deselect `slow`) keeps what catches a
# regression: the drop-ins' alignment, parity and gradients, every zoo bug killed by its property
# on its covering rows, the suite's units. What repeats those with more examples or end to end
# (the catalogue on the drop-ins, the zoo's controls, the CLI, plugin, search and examples run
# whole) is marked ``slow``: `pytest -m slow` runs it, tox and .ci/run run everything (`-m ""`).
SLOW = (
    "tests/properties/",
    "tests/zoo/test_kill_matrix.py::test_controls_are_killed_by_nothing",
    "tests/zoo/test_kill_matrix.py::test_foreign_controls_pass_every_property",
    "tests/zoo/test_campaigns.py",
    "tests/zoo/test_power.py",
    "tests/test_binding.py::test_a_gate_order_loads_the_blocks_so_and_compares_in_torchs[ifog",
    "tests/test_cli.py",
    "tests/test_corpus.py",
    "tests/test_notebook.py",
    "tests/test_plugin_project.py",
    "tests/test_search.py",
    "tests/test_truthful.py",
    "tests/test_sensitivity.py::test_torchs_own_results_are_within",
)

EXPECT_TORCH_ENV = "RNN_IMPL_EXPECT_TORCH"
EXPECT_WHEEL_ENV = "RNN_IMPL_EXPECT_WHEEL"


def pytest_configure(config: pytest.Config) -> None:
    expected = os.environ.get(EXPECT_TORCH_ENV)
    if expected and torch.__version__.split("+")[0] != expected:
        pytest.exit(
            f"{EXPECT_TORCH_ENV}={expected} but torch {torch.__version__} is installed",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    # an editable install or a source tree on sys.path would test the sources, not the wheel
    if os.environ.get(EXPECT_WHEEL_ENV) and "site-packages" not in Path(rnn_impl.__file__).parts:
        pytest.exit(
            f"{EXPECT_WHEEL_ENV} is set but rnn_impl was imported from {rnn_impl.__file__}",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        where = Path(str(item.path)).relative_to(root).as_posix()
        if where.startswith(ONCE) or item.nodeid.startswith(ONCE):
            item.add_marker(pytest.mark.once)
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


_LEFT_FOR_LATER: list[int] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    _LEFT_FOR_LATER.append(sum(item.get_closest_marker("slow") is not None for item in items))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if config.option.markexpr != "not slow":
        return
    # under xdist the workers deselect: the controller counts nothing
    counted = not getattr(config.option, "numprocesses", None)
    count = sum(_LEFT_FOR_LATER)
    if counted and not count:
        return
    left = f"{count} slow test{'s' * (count != 1)}" if counted else "the slow tests"
    terminalreporter.write_line(
        f"rnn_impl: the local loop left out {left} (conftest.SLOW): "
        '`pytest -n auto -m slow` runs them, `pytest -n auto -m ""` everything, '
        "`bash .ci/run` the whole gate"
    )


# rnn-verify run inside a test shares its runs among no processes of its own: pytest -n
# already uses the cores (tests of --workers pass it explicitly)
os.environ.setdefault(WORKERS_ENV, "1")
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _WORKERS))


def pytest_report_header(config: pytest.Config) -> list[str]:
    pairs = ", ".join(
        f"{d}: {'/'.join(devices.dtype_name(t) for t in devices.dtypes_for(d))}"
        for d in devices.available_devices()
    )
    return [
        f"rnn_impl: torch {torch.__version__}, threads {torch.get_num_threads()}",
        f"rnn_impl: devices and dtypes: {pairs}",
        f"rnn_impl: hypothesis profile {settings.get_current_profile_name()}, implementation "
        f"under test {environment.implementation_spec(config.getoption('--rnn-impl'))}",
    ]
