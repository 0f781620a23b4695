"""rnn-verify end to end, in subprocesses: exit codes, the table, the reproducer, the files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import pytest
import torch

from rnn_impl.testing.properties import BY_NAME

QUICK = ["--device", "cpu", "--dtype", "float32", "--max-examples", "8", "--profile", "ci"]


def rnn_verify(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "rnn_impl.testing", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


@pytest.mark.parametrize("fix, hinted", [([], True), (["--fix", "batch_first=true"], False)])
def test_a_class_that_reads_batch_first_is_told_how_to_hold_it(fix, hinted, tmp_path):
    """A class that takes no batch_first and reads batch-first input: the lines before the
    runs say so and name the fix (tests/test_binding.py's AlwaysBatchFirst)."""
    root = Path(__file__).resolve().parent.parent
    args = ["--impl", "tests.test_binding:AlwaysBatchFirst", "--property", "output_close"]
    args += ["--layout", "batched"]
    run = rnn_verify(*args, *QUICK, *fix, "--repro-dir", str(tmp_path), cwd=root)
    hint = "reads (batch, time, features) input (probed)"
    assert (hint in run.stdout) is hinted, run.stdout[:2000]
    assert (run.returncode == 0) is not hinted, run.stdout[-2000:]


def rnn_verify_here(*args, cwd, monkeypatch, capsys):
    """``rnn_verify`` in this process, for runs that stop before any property runs (usage
    errors, empty plans), where a subprocess would only add torch's import time. main()
    moves ``cwd`` to the end of sys.path and imports the user's modules: both are undone."""
    from rnn_impl.testing.cli import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    try:
        returncode = main(list(args))
    finally:
        for name in set(sys.modules) - before:
            if name.startswith("user_impls"):
                del sys.modules[name]
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, returncode, out, err)


PROPS = ("output_close", "shapes")


@pytest.mark.parametrize("impl", ["rnn_impl:RNN", "torch.nn:RNN"])
def test_a_conforming_implementation_exits_0(impl, tmp_path):
    run = rnn_verify(
        "--impl",
        impl,
        *(arg for name in PROPS for arg in ("--property", name)),
        "--json",
        str(tmp_path / "r.json"),
        "--junit-xml",
        str(tmp_path / "r.xml"),
        *QUICK,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{impl} conforms: 2 passed, 0 failed" in run.stdout
    # each property runs its covering set, then the 8 random examples asked for
    ran = {name: len(BY_NAME[name].covering("cpu", torch.float32)) + 8 for name in PROPS}
    assert f"pass {ran['output_close']}" in run.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["implementation"] == impl
    assert [(r["property"], r["status"], r["examples"]) for r in report["results"]] == [
        (name, "pass", ran[name]) for name in PROPS
    ]
    suite = ElementTree.parse(tmp_path / "r.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0"


@pytest.mark.parametrize(
    "bug, prop, evidence",
    [
        (
            "rnn_impl.testing.zoo.bugs:MissingBias",
            "output_close",
            "further from nn.RNN's float64 result than rounding in any order lands",
        ),
        ("rnn_impl.testing.zoo.bugs:H0Ignored", "streaming", "further from two runs split at step"),
    ],
)
def test_a_zoo_bug_exits_1_with_a_reproducer_that_runs(bug, prop, evidence, tmp_path):
    run = rnn_verify(
        "--impl",
        bug,
        "--property",
        prop,
        "--repro-dir",
        str(tmp_path),
        "--junit-xml",
        str(tmp_path / "r.xml"),
        "--device",
        "cpu",
        "--max-examples",
        "20",
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAIL" in run.stdout and "does not conform" in run.stdout
    assert "  example: RNN(" in run.stdout and "departs: " in run.stdout
    assert evidence in run.stdout
    scripts = list(tmp_path.glob("rnn-verify-repro-*.py"))
    assert scripts and all(f"reproducer: python {s}" in run.stdout for s in scripts)
    for script in scripts:
        replay = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=300
        )
        assert replay.returncode == 1, replay.stdout + replay.stderr
        assert "PropertyFailure: " in replay.stdout and "config: RNN(" in replay.stdout
    suite = ElementTree.parse(tmp_path / "r.xml").getroot()
    assert int(suite.get("failures")) >= 1


NOTEBOOK = [
    "--impl",
    "rnn_impl.testing.zoo.notebook:notebook_rnn",
    "--adapter",
    "rnn_impl.testing.zoo.notebook:NotebookAdapter",
]


@pytest.mark.parametrize(
    "layout, explanation",
    [
        (
            ["--layout", "unbatched"],
            "MyRNN raised ValueError: not enough values to unpack (expected 3, got 2)",
        ),
        # its smallest covering example is a batch of 0, which MyRNN returns time-major
        (["--layout", "batched"], "output is ((0, 1, 1), torch.float32, 'cpu')"),
    ],
)
def test_the_notebook_rnn_is_explained(layout, explanation, tmp_path):
    args = [*NOTEBOOK, "--property", "shapes", *layout, "--repro-dir", str(tmp_path), *QUICK]
    run = rnn_verify(*args)
    assert run.returncode == 1
    assert "FAIL shapes on cpu/float32" in run.stdout
    assert explanation in run.stdout


BAD_MODULE = textwrap.dedent(
    """
    import torch

    class NoSizes(torch.nn.Module):
        def __init__(self):
            super().__init__()

    class LooksLikeLSTM(torch.nn.Module):
        def __init__(self, input_size, hidden_size, num_layers=1, bias=True):
            super().__init__()
            self.weight_ih_l0 = torch.nn.Parameter(torch.zeros(4 * hidden_size, input_size))

    class CellWithoutKind(torch.nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.x2h = torch.nn.Linear(input_size, hidden_size)
            self.h2h = torch.nn.Linear(hidden_size, hidden_size)

        def forward(self, x, h=None):
            h = x.new_zeros(x.shape[-2], self.h2h.out_features) if h is None else h
            return torch.tanh(self.x2h(x[-1]) + self.h2h(h))

    class Exploding:
        def load(self, impl, reference):
            raise RuntimeError("boom")

        def named_parameters(self, impl):
            return {}
    """
)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--impl", "no_such_module:RNN"], "cannot import 'no_such_module'"),
        (["--impl", "rnn_impl:Missing"], "has no attribute 'Missing'"),
        (["--impl", "rnn_impl"], "expected 'module:attr'"),
        (
            ["--impl", "user_impls:NoSizes"],
            "NoSizes takes no input_size (by name, an alias or position): bind it with --arg input_size=PARAMETER",
        ),
        (
            ["--adapter", "user_impls:Exploding"],
            "loading nn.RNN's weights into rnn_impl:RNN built with",
        ),
        (["--property", "nope"], "unknown property, category or tier 'nope'"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--dtype", "float8"], "unknown dtype 'float8'"),
        (["--max-examples", "0"], "--max-examples must be at least 1"),
        (["--fix", "num_layers=two"], "fix num_layers: 'two' is not a valid int"),
        (["--fix", "dropout=0.5"], "fix dropout: only 0"),
        (["--no-such-flag"], "unrecognized arguments"),
        (
            ["--impl", "torch.nn:RNN", "--property", "cell_errors"],
            "imitates nn.RNN; these properties verify a cell",
        ),
        (
            ["--impl", "rnn_impl:GRU", "--fix", "nonlinearity=relu"],
            "rnn_impl:GRU is an nn.GRU look-alike: it has no nonlinearity",
        ),
        (
            ["--impl", "torch.nn:RNN", "--fix", "proj_size=2"],
            "torch.nn:RNN is an nn.RNN look-alike: it has no proj_size",
        ),
        (
            ["--impl", "torch.nn:LSTMCell", "--fix", "proj_size=2"],
            "is an nn.LSTMCell look-alike: it has no proj_size",
        ),
        (["--impl", "torch.nn:LSTM", "--kind", "tree"], "argument --kind: invalid choice"),
        (
            ["--impl", "user_impls:LooksLikeLSTM"],
            "user_impls:LooksLikeLSTM looks like an nn.LSTM (its weights have 4 gate blocks of "
            "rows, and loading nn.RNN's failed): add --kind lstm",
        ),
        (
            ["--impl", "user_impls:CellWithoutKind"],
            "user_impls:CellWithoutKind returned one tensor where nn.RNN returns (output, h_n): "
            "if it is a cell, add --kind rnn_cell; if not, return (output, h_n)",
        ),
        (["--json", "no/such/dir/r.json"], "--json no/such/dir/r.json: no directory no/such/dir"),
        (["--junit-xml", "."], "--junit-xml .: is a directory (name a file in it)"),
        (["--save-failures", "no/c.json"], "--save-failures no/c.json: no directory no"),
        (["--repro-dir", "user_impls.py"], "--repro-dir user_impls.py: not a directory"),
        (
            ["--impl", "rnn_impl:LSTM", "--fix", "proj_size=5", "--fix", "hidden_size=3"],
            "proj_size has to be smaller than hidden_size",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, message, tmp_path, monkeypatch, capsys):
    (tmp_path / "user_impls.py").write_text(BAD_MODULE)
    run = rnn_verify_here(*args, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("rnn-verify: error: ") and message in run.stderr


ONE_FORWARD_LAYER = textwrap.dedent(
    """
    import rnn_impl

    class OneForwardLayer(rnn_impl.RNN):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self.bidirectional or self.num_layers != 1:
                raise NotImplementedError("one forward layer only")
    """
)


def test_fix_narrows_the_configs_for_a_partial_implementation(tmp_path):
    (tmp_path / "partial.py").write_text(ONE_FORWARD_LAYER)
    args = ["--impl", "partial:OneForwardLayer", "--property", "shapes"]
    args += ["--property", "dropout_eval", *QUICK, "--repro-dir", str(tmp_path)]
    env = {"PYTHONPATH": str(tmp_path)}
    unfixed = rnn_verify(*args, cwd=tmp_path, env=env)
    assert (
        unfixed.returncode == 1 and "NotImplementedError: one forward layer only" in unfixed.stdout
    )
    fixed = rnn_verify(
        *args, "--fix", "bidirectional=false", "--fix", "num_layers=1", cwd=tmp_path, env=env
    )
    assert fixed.returncode == 0, fixed.stdout
    assert "skipped (1 run, 1 reason): dropout_eval draws its own num_layers" in fixed.stdout
    assert "1 passed, 0 failed, 1 skipped" in fixed.stdout


def test_list_names_every_property():
    from rnn_impl.testing.properties import CATALOGUE

    run = rnn_verify("--list")
    assert run.returncode == 0
    names = [line.split()[0] for line in run.stdout.splitlines()[1:]]
    assert names == [p.name for p in CATALOGUE]


def test_console_script_is_installed():
    script = shutil.which("rnn-verify")
    assert script, "rnn-verify is not on PATH: install the package (pip install -e .)"
    run = subprocess.run([script, "--list"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0


def reproducer_for(impl, tmp_path, config, case, prop="output_exact", **loading):
    """The reproducer rnn-verify writes for a failure of ``prop`` by ``impl`` (loaded with
    ``loading``: load_implementation's keywords)."""
    import torch

    from rnn_impl.testing.oracle import load_implementation
    from rnn_impl.testing.report import Result, write_reproducer
    from rnn_impl.testing.strategies import Example

    result = Result(prop, "differential", "cpu", "float32", "fail")
    example = Example(config, case, "cpu", torch.float32)
    return write_reproducer(tmp_path, result, example, load_implementation(impl, **loading))


def test_a_reproducer_rebuilds_the_implementation_as_it_was_loaded(tmp_path):
    """A class that stacks its gates i, f, o, g, verified with --gate-order ifog: its
    reproducer loads it so too, and holds (it once failed a correct class, read in torch's
    order)."""
    from rnn_impl.testing.cases import InputCase, ModuleConfig
    from rnn_impl.testing.kinds import KINDS

    script = reproducer_for(
        "tests.test_binding:StackedIFOG",
        tmp_path,
        ModuleConfig(3, 4, family="lstm"),
        InputCase(seq_len=3, batch=2),
        prop="output_close",
        kind=KINDS["lstm"],
        gate_order="ifog",
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_an_operation_order_failure_is_classified_so(tmp_path):
    from rnn_impl.testing.cases import InputCase, ModuleConfig
    from rnn_impl.testing.report import classify

    script = reproducer_for(
        "rnn_impl.testing.zoo.bugs:MissingBias", tmp_path, ModuleConfig(2, 3), InputCase()
    )
    assert classify(script).startswith("operation order: ")


def test_a_blas_alignment_failure_is_classified_so(tmp_path):
    """The step's state read from a view at an odd offset: exact only where MKL does not
    round by alignment, so the example holds under MKL_CBWR=AUTO,STRICT."""
    from rnn_impl.testing.cases import InputCase, ModuleConfig
    from rnn_impl.testing.report import classify
    from tests.support.misaligned import blas_rounds_by_alignment

    if not blas_rounds_by_alignment():
        pytest.skip("this machine's BLAS rounds the same at every alignment")
    script = reproducer_for(
        "tests.support.misaligned:MisalignedRNN",
        tmp_path,
        ModuleConfig(1, 5, bias=False),
        InputCase(seq_len=3, batch=2, with_h0=False),
    )
    assert subprocess.run([sys.executable, str(script)], capture_output=True).returncode == 1
    assert classify(script).startswith("BLAS alignment: ")


OUTCOME = (
    "import os\nopen(os.environ['RNN_VERIFY_OUTCOME'], 'w').write('holds' if holds else 'fails')"
)


@pytest.mark.parametrize(
    "body, cause",
    [
        (
            f"import os\nholds = os.environ.get('MKL_CBWR') == 'AUTO,STRICT'\n{OUTCOME}",
            "BLAS alignment: ",
        ),
        (f"holds = False\n{OUTCOME}", "operation order: "),
        ("import no_such_module", "not classified: the reproducer exited 1: ModuleNotFoundError"),
    ],
    ids=["holds-under-strict-blas", "fails-under-strict-blas", "does-not-run"],
)
def test_classify_reads_the_rerun(body, cause, tmp_path):
    """The reproducer's outcome comes back through the file ``$RNN_VERIFY_OUTCOME`` names; a
    script that never writes one (it could not run) is not classified."""
    from rnn_impl.testing.report import classify

    script = tmp_path / "repro.py"
    script.write_text(body)
    assert classify(script).startswith(cause)


def test_an_exact_failure_shows_its_cause(tmp_path):
    run = rnn_verify(
        "--impl",
        "rnn_impl.testing.zoo.bugs:MissingBias",
        "--property",
        "output_exact",
        "--repro-dir",
        str(tmp_path),
        "--json",
        str(tmp_path / "r.json"),
        *QUICK,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "  cause: operation order: " in run.stdout
    [result] = json.loads((tmp_path / "r.json").read_text())["results"]
    assert result["cause"].startswith("operation order: ")


def test_workers_give_the_results_of_one_process_in_the_same_order(tmp_path):
    """``--workers 2`` shares the runs among two spawned processes: under the derandomized
    ci profile the results, the failures and their order are those of one process."""
    reports = {}
    for workers in ("1", "2"):
        out = tmp_path / workers
        run = rnn_verify(
            "--impl",
            "rnn_impl.testing.zoo.bugs:MissingBias",
            "--property",
            "output_close",
            "--property",
            "shapes",
            "--property",
            "batch_independence",
            "--dtype",
            "float32",
            "--dtype",
            "float64",
            "--max-examples",
            "4",
            "--profile",
            "ci",
            "--workers",
            workers,
            "--repro-dir",
            str(out),
            "--json",
            str(tmp_path / f"{workers}.json"),
        )
        assert run.returncode == 1, run.stdout + run.stderr
        assert ("on 2 workers" in run.stdout) == (workers == "2")
        results = json.loads((tmp_path / f"{workers}.json").read_text())["results"]
        for result in results:
            del result["seconds"]
            result["reproducer"] = os.path.basename(result["reproducer"])
        reports[workers] = results
        assert [r["status"] for r in results].count("fail") == 2, run.stdout
    assert reports["1"] == reports["2"]


def test_a_bad_number_of_workers_is_a_usage_error(tmp_path, monkeypatch, capsys):
    run = rnn_verify_here("--workers", "0", cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    assert (run.returncode, run.stderr) == (2, "rnn-verify: error: --workers must be at least 1\n")
    monkeypatch.setenv("RNN_VERIFY_WORKERS", "many")
    run = rnn_verify_here("--list", cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    assert run.returncode == 0
    run = rnn_verify_here(
        "--property", "repr", cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys
    )
    assert run.returncode == 2
    assert "$RNN_VERIFY_WORKERS='many': set it to a positive number" in run.stderr


def test_a_class_that_imports_only_in_the_main_process_runs_there(tmp_path):
    (tmp_path / "main_only.py").write_text(
        "import multiprocessing\n"
        "if multiprocessing.parent_process() is not None:\n"
        "    raise ImportError('main_only imports in the main process only')\n"
        "from torch.nn import RNN as MainOnly\n"
    )
    run = rnn_verify(
        *("--impl", "main_only:MainOnly", "--property", "shapes", "--workers", "2"),
        *("--dtype", "float64", *QUICK),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "rnn-verify: the workers stopped (UsageError: cannot import 'main_only': " in run.stdout
    assert "Traceback" not in run.stderr
    assert "main_only:MainOnly conforms: 2 passed" in run.stdout
