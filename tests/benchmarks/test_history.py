"""Bench history's comparison, on saved runs written here (the numbers are the test's own)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks import history
from tests.benchmarks.shapes import REGRESSION

XEON = "Intel(R) Xeon(R) Processor (family 6, model 207, 2 logical CPUs)"
EPYC = "AMD EPYC (family 25, model 17, 2 logical CPUs)"


def save(storage: Path, name: str, when: str, kind: str, ratio: float) -> Path:
    run = {
        "datetime": when,
        "machine_info": {"rnn_impl": {"cpu_kind": kind}},
        "benchmarks": [
            {
                "fullname": "test_ratio[mid-forward-default-threads]",
                "stats": {"median": 0.01},
                "extra_info": {
                    "shape": "mid",
                    "mode": "forward",
                    "threads": "default-threads (2)",
                    "ratio": ratio,
                },
            }
        ],
    }
    path = storage / "Linux-CPython-3.11-64bit" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run))
    return path


@pytest.mark.parametrize(
    "earlier, now, status, says",
    [
        ([], 0.70, 0, "first baseline"),
        ([(XEON, 0.70)], 0.70 * (1 + REGRESSION) * 0.99, 0, "no ratio grew"),
        ([(XEON, 0.70)], 0.70 * (1 + REGRESSION) * 1.01, 1, "REGRESSION"),
        # another CPU kind is never the baseline, however fast it was
        ([(XEON, 0.70), (EPYC, 0.30)], 0.80, 0, "no ratio grew"),
        ([(EPYC, 0.30)], 0.80, 0, "first baseline"),
        # the newest earlier run of the kind is the baseline, not the best one
        ([(XEON, 0.50), (XEON, 0.70)], 0.80, 0, "no ratio grew"),
    ],
)
def test_compares_with_the_last_run_of_the_same_cpu_kind(
    tmp_path, capsys, earlier, now, status, says
):
    for i, (kind, ratio) in enumerate(earlier):
        save(tmp_path, f"{i:04d}", f"2026-12-01T0{i}:00:00", kind, ratio)
    save(tmp_path, "9999", "2026-12-01T09:00:00", XEON, now)
    assert history.main(["--storage", str(tmp_path)]) == status
    assert says in capsys.readouterr().out


def test_unreadable_run_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{")
    assert history.main(["--storage", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_saved_runs_record_the_cpu_kind_torch_and_blas():
    info = history.machine_info()
    assert info["cpu_kind"].count("family") == 1 and "logical CPUs" in info["cpu_kind"]
    assert set(info) == {"cpu_kind", "torch", "blas", "cpu_capability", "threads"}
