"""The pytest plugin the way users meet it: the sample project under examples/external_project
(its own pyproject, package and tests, the one-line API, an expected-failures file), copied to
a temporary directory and run with pytest there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "external_project"
QUICK = [
    "-k",
    "parameters-cpu or shapes-cpu-float32 or output_close-cpu-float32 or cell_output_close",
]


def run_pytest(cwd: Path, *args: str, env: dict[str, str] | None = None):
    """``python -m pytest -q *args`` in ``cwd``, in a subprocess, as a user would run it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def in_project(project: Path, *args: str):
    """pytest in the sample project, on its sources, under the ci profile."""
    return run_pytest(project, *args, env={"PYTHONPATH": str(project), "RNN_IMPL_PROFILE": "ci"})


@pytest.fixture
def project(tmp_path):
    copy = tmp_path / "external_project"
    shutil.copytree(SAMPLE, copy)
    return copy


def test_the_known_gap_is_an_expected_failure(project):
    run = in_project(project, *QUICK)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "1 xfailed" in run.stdout and "failed" not in run.stdout.replace("xfailed", "")
    assert "no cell under test" in in_project(project, "-rs", *QUICK).stdout


def test_a_planted_bug_fails_the_run(project):
    rnn = project / "myrnn" / "rnn.py"
    source = rnn.read_text()
    call = "return self.recurrent(input, hx)"
    assert call in source
    rnn.write_text(
        source.replace(
            call, "output, h_n = self.recurrent(input, hx)\n        return output, h_n * 1.001"
        )
    )
    run = in_project(project, *QUICK)
    assert run.returncode == 1, run.stdout[-3000:]
    assert "output_close-cpu-float32" in run.stdout
    # reported as rnn-verify reports it: the example, where it departs, what it needs
    assert "RunFailed: FAIL output_close on cpu/float32" in run.stdout, run.stdout[-3000:]
    assert "departs: h_n differs for layer 0 forward" in run.stdout


def test_an_expected_failure_that_passes_fails_under_ci(project):
    listed = project / "tests" / "rnn-expected-failures.txt"
    listed.write_text(listed.read_text() + "shapes-cpu-float32  # thought to fail\n")
    run = in_project(project, *QUICK)
    assert run.returncode == 1, run.stdout[-3000:]
    assert "XPASS(strict)" in run.stdout


def test_an_expected_failure_without_a_reason_stops_the_run(project):
    listed = project / "tests" / "rnn-expected-failures.txt"
    listed.write_text("parameters-*\n")
    run = in_project(project, *QUICK)  # the decorator's file: checked at collection
    assert run.returncode == pytest.ExitCode.INTERRUPTED, run.stdout + run.stderr
    assert "has no reason" in run.stdout + run.stderr
    option = in_project(project, "--rnn-expected-failures", "tests/rnn-expected-failures.txt")
    assert option.returncode == pytest.ExitCode.USAGE_ERROR, option.stdout + option.stderr
    assert "has no reason" in option.stdout + option.stderr


def test_the_plugin_loads_without_hypothesis(tmp_path):
    """A project that has the package but not the verify extra: pytest still runs."""
    (tmp_path / "test_plain.py").write_text(
        "import pytest\n\n\ndef test_hypothesis_is_absent():\n"
        "    with pytest.raises(ImportError):\n        import hypothesis  # noqa: F401\n"
    )
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'hypothesis' or name.startswith('hypothesis.'):\n"
        "            raise ImportError('hypothesis is not installed here')\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    env = {"PYTHONPATH": str(tmp_path)}
    run = run_pytest(tmp_path, "-p", "no:hypothesispytest", "test_plain.py", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    options = run_pytest(tmp_path, "-p", "no:hypothesispytest", "--help", env=env)
    assert "--rnn-impl" in options.stdout, "the plugin did not load"


def test_the_plugin_probes_and_names_what_it_left_out(tmp_path):
    """The notebook's class, fixed, through the plugin with no option: bound, mapped and
    probed as rnn-verify does; the layouts it does not take are named once, at the end."""
    notebook = Path(__file__).resolve().parent.parent / "examples" / "notebook"
    shutil.copy(notebook / "my_rnn_fixed.py", tmp_path / "my_rnn_fixed.py")
    (tmp_path / "test_mine.py").write_text(
        "from rnn_impl.testing import parametrize_catalogue\n\n\n"
        '@parametrize_catalogue("my_rnn_fixed:MyRNN")\n'
        "def test_my_rnn(rnn_run):\n"
        "    rnn_run()\n"
    )
    run = run_pytest(
        tmp_path,
        "-k",
        "output_close-cpu-float32",
        env={"PYTHONPATH": str(tmp_path), "RNN_IMPL_PROFILE": "ci"},
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "1 passed" in run.stdout
    assert (
        "rnn_impl: unsupported, left out of every catalogue run: packed_sorted input (every "
        "probe raised " in run.stdout
    ), run.stdout[-3000:]
