"""pytest wiring: Hypothesis profiles, the implementation under test, thread caps, header."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings

from rnn_impl.testing import devices, oracle, profiles
from rnn_impl.testing.cases import parse_fixed

profiles.register_profiles()
settings.load_profile(profiles.default_profile())

EXPECT_TORCH_ENV = "RNN_IMPL_EXPECT_TORCH"


def pytest_configure(config: pytest.Config) -> None:
    try:
        parse_fixed(config.getoption("--rnn-fix"))
    except ValueError as error:
        raise pytest.UsageError(f"--rnn-fix: {error}") from None
    expected = os.environ.get(EXPECT_TORCH_ENV)
    if expected and torch.__version__.split("+")[0] != expected:
        pytest.exit(
            f"{EXPECT_TORCH_ENV}={expected} but torch {torch.__version__} is installed",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _WORKERS))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rnn_impl")
    group.addoption(
        "--rnn-impl",
        default=None,
        help=f"implementation under test, module:attr (default ${oracle.IMPL_ENV} or "
        f"{oracle.DEFAULT_IMPL})",
    )
    group.addoption(
        "--rnn-cell-impl",
        default=None,
        help=f"RNNCell under test for the cell properties (default ${oracle.CELL_IMPL_ENV} or "
        f"{oracle.DEFAULT_CELL_IMPL})",
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
        help=f"adapter for its parameter names, module:attr (default ${oracle.ADAPTER_ENV})",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    subject = _subject_spec(config)
    pairs = ", ".join(
        f"{d}: {'/'.join(str(t).removeprefix('torch.') for t in devices.dtypes_for(d))}"
        for d in devices.available_devices()
    )
    return [
        f"rnn_impl: torch {torch.__version__}, threads {torch.get_num_threads()}",
        f"rnn_impl: devices and dtypes: {pairs}",
        f"rnn_impl: hypothesis profile {settings.get_current_profile_name()}, "
        f"implementation under test {subject}",
    ]


def _subject_spec(config: pytest.Config) -> str:
    return config.getoption("--rnn-impl") or os.environ.get(oracle.IMPL_ENV) or oracle.DEFAULT_IMPL


@pytest.fixture(scope="session")
def subject(pytestconfig: pytest.Config) -> oracle.Subject:
    """The implementation under test (``--rnn-impl`` / ``$RNN_IMPL``)."""
    return oracle.load_subject(
        pytestconfig.getoption("--rnn-impl"), pytestconfig.getoption("--rnn-adapter")
    )


@pytest.fixture(scope="session")
def cell_subject(pytestconfig: pytest.Config) -> oracle.Subject:
    """The RNNCell under test (``--rnn-cell-impl`` / ``$RNN_CELL_IMPL``)."""
    spec = (
        pytestconfig.getoption("--rnn-cell-impl")
        or os.environ.get(oracle.CELL_IMPL_ENV)
        or oracle.DEFAULT_CELL_IMPL
    )
    return oracle.load_subject(spec)


@pytest.fixture(scope="session")
def fixed_config(pytestconfig: pytest.Config) -> dict:
    """Constructor arguments held fixed (``--rnn-fix NAME=VALUE``)."""
    return parse_fixed(pytestconfig.getoption("--rnn-fix"))
