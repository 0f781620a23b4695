"""This repository's pytest wiring (the rnn_impl plugin itself loads through its entry point,
as in any project with the package installed): Hypothesis profiles, thread caps under xdist,
the torch version a tox leg expects, and that the wheel leg imports the wheel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

import rnn_impl
from rnn_impl.testing import devices, environment, profiles

profiles.register_profiles()
settings.load_profile(profiles.default_profile())

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
