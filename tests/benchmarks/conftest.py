"""Benchmark wiring: every saved run records the CPU kind, torch, BLAS and threads
(:func:`tests.benchmarks.history.machine_info`), so that bench history compares like with like."""

from __future__ import annotations

import pytest

from tests.benchmarks import history


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["rnn_impl"] = history.machine_info()
