"""rnn-verify and the pytest plugin tell the truth: a run that checked nothing is not a pass,
narrowing skips what it must, failures carry their numbers, the output reads right, user code
cannot shadow installed packages, and a time budget bounds a run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from rnn_impl.testing.properties import BY_NAME
from rnn_impl.testing.tolerances import difference
from tests.test_cli import QUICK, rnn_verify, rnn_verify_here


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a cuda device")
@pytest.mark.parametrize(
    "args, why",
    [
        (["--device", "cuda"], "nothing to verify: no cuda device on this machine"),
        (["--property", "streaming", "--dtype", "float32"], "nothing to verify: no selected"),
        (
            ["--property", "dropout_masks_exact", "--fix", "num_layers=1"],
            "nothing to verify: dropout_masks_exact draws its own num_layers",
        ),
        (
            ["--property", "batch_first_is_transpose", "--fix", "batch_first=false"],
            "nothing to verify: batch_first_is_transpose draws its own batch_first",
        ),
    ],
)
def test_a_run_that_checks_nothing_exits_2_saying_why(args, why, tmp_path, monkeypatch, capsys):
    run = rnn_verify_here(
        "--impl", "torch.nn:RNN", *args, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys
    )
    assert run.returncode == 2, run.stdout
    assert run.stderr.count("\n") == 1 and why in run.stderr


def test_fixing_batch_first_skips_the_law_that_builds_both():
    prop = BY_NAME["batch_first_is_transpose"]
    assert "draws its own batch_first" in prop.skip_reason(
        "cpu", torch.float64, fixed={"batch_first": False}
    )


@pytest.mark.skipif(
    getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
    reason="this machine has an mps device",
)
def test_a_catalogue_run_where_everything_skips_fails():
    from pathlib import Path

    from tests.test_plugin_project import run_pytest

    root = Path(__file__).resolve().parent.parent
    run = run_pytest(root, "tests/properties", "-m", "", "-k", "mps")  # every test, slow too
    assert run.returncode == 1, run.stdout
    assert "rnn_impl: nothing was verified: all" in run.stdout


BUGGY = """
import torch
import rnn_impl


class OneUlpOff(rnn_impl.RNN):
    def forward(self, input, hx=None):
        output, h_n = super().forward(input, hx)
        return output, torch.nextafter(h_n, torch.full_like(h_n, 2.0))
"""


def test_json_has_a_verdict_and_failures_carry_their_error(tmp_path):
    (tmp_path / "buggy.py").write_text(BUGGY)
    out = tmp_path / "report.json"
    run = rnn_verify(
        "--impl",
        "buggy:OneUlpOff",
        "--property",
        "output_exact",
        *QUICK,
        "--json",
        str(out),
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stdout
    report = json.loads(out.read_text())
    assert report["verdict"] == "does not conform" and report["exit_status"] == 1
    assert report["fail"] == 1 and report["hypothesis"] and report["torch"]
    (failed,) = [r for r in report["results"] if r["status"] == "fail"]
    assert failed["max_abs"] > 0 and failed["eps_units"] > 0
    assert (tmp_path / "rnn-verify-reproducers").is_dir(), "reproducers go to their own folder"
    assert not list(tmp_path.glob("rnn-verify-repro-*.py")), "none in the working directory"
    (script,) = (tmp_path / "rnn-verify-reproducers").glob("*.py")
    elsewhere = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd="/", timeout=600
    )
    assert elsewhere.returncode == 1 and "is not bit-identical" in elsewhere.stdout
    assert "from rnn_impl.testing import BY_NAME" in script.read_text()


def test_a_relative_error_against_zero_is_called_undefined():
    text = str(difference(torch.tensor([1e-8]), torch.tensor([0.0])))
    assert "undefined" in text and "e+" not in text


def test_a_constructor_failure_names_its_case_with_balanced_quotes():
    from rnn_impl.testing.cases import InputCase, ModuleConfig
    from rnn_impl.testing.properties._core import fail_on_difference
    from rnn_impl.testing.strategies import Example

    example = Example(ModuleConfig(3, 4), InputCase(), "cpu", torch.float32)
    pairs = {"'generated: planted [1]': RNN(3)": (lambda: 1, lambda: 1 / 0)}
    with pytest.raises(AssertionError) as caught:
        fail_on_difference(example, "constructor call", pairs)
    headline = str(caught.value).splitlines()[0]
    assert headline == "constructor call 'generated: planted [1]' differs from nn.RNN"


def test_a_stray_module_in_the_working_directory_does_not_shadow_an_installed_one(tmp_path):
    (tmp_path / "hypothesis.py").write_text("raise ImportError('the stray hypothesis.py')\n")
    run = rnn_verify("--impl", "torch.nn:RNN", "--property", "shapes", *QUICK, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_max_time_bounds_a_run_and_reports_what_it_did_not_reach(tmp_path):
    args = ["--impl", "torch.nn:RNN", "--device", "cpu", "--profile", "dev"]
    run = rnn_verify(*args, "--max-time", "0.01", cwd=tmp_path)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "not reached" in run.stdout and "--max-time 0.01 s ran out" in run.stdout
    assert "conforms on what was reached" in run.stdout


def zoo_subject(label):
    from rnn_impl.testing.zoo import ZOO

    return next(b for b in ZOO if b.label == label).implementation()


def example_of(device="cpu", dtype=torch.float32, **settings):
    from rnn_impl.testing.cases import InputCase, ModuleConfig
    from rnn_impl.testing.strategies import Example

    config_fields = set(ModuleConfig.__dataclass_fields__)
    config = ModuleConfig(**{k: v for k, v in settings.items() if k in config_fields})
    case = InputCase(**{k: v for k, v in settings.items() if k not in config_fields})
    return Example(config, case, device, dtype)


@pytest.mark.parametrize(
    "bug, prop, settings, departs, needs",
    [
        (
            "MissingBias",
            "output_close",
            {"input_size": 3, "hidden_size": 3, "seq_len": 5, "batch": 1},
            ["output first differs at step 0, batch row 0", "h_n differs for layer 0 forward"],
            ["bias=True (passes with False)"],
        ),
        (
            "ReverseDeepStateDropped",
            "output_close",
            {"input_size": 2, "hidden_size": 3, "num_layers": 3, "bidirectional": True},
            ["h_n differs for layer 2 reverse", "each layer and direction's weights alone"],
            [
                "num_layers=3 (passes with 1)",
                "bidirectional=True (passes with False)",
                "with_h0=True (passes with False)",
                "batch=2 (passes with 1)",
            ],
        ),
        (
            "ReluNoBiasLeaky",
            "output_close",
            {"input_size": 4, "hidden_size": 2, "nonlinearity": "relu", "bias": False},
            ["output first differs at step 0", "h_n differs for layer 0 forward"],
            ["nonlinearity='relu' (passes with 'tanh')"],
        ),
        (
            "TruncatedBackward",
            "gradients",
            {"input_size": 2, "hidden_size": 2, "seq_len": 40, "batch": 1},
            ["forward results agree; gradients differ most"],
            ["seq_len=40 (passes with 1)"],
        ),
        (
            "GRUGateOrderZR",
            "output_close",
            {"input_size": 2, "hidden_size": 3, "family": "gru"},
            [
                "given its gate blocks reordered to (z, r, n) it agrees with nn.GRU",
                "if that is its layout, --gate-order zrn",
            ],
            [],
        ),
        (
            "LSTMGateOrderTF",
            "output_close",
            {"input_size": 2, "hidden_size": 3, "num_layers": 2, "family": "lstm"},
            ["reordered to (i, g, f, o) it agrees with nn.LSTM", "torch's is (i, f, g, o)"],
            [],
        ),
    ],
)
def test_a_failure_is_localised_and_its_needs_named(bug, prop, settings, departs, needs):
    """Fault localisation on planted bugs: where the implementation departs from nn.RNN, and
    which settings the failure needs (each alone, changed, makes it pass)."""
    from rnn_impl.testing.localise import describe

    example = example_of(**settings)
    located = describe(BY_NAME[prop], zoo_subject(bug), example)
    text = "\n".join(located["departs"])
    assert all(part in text for part in departs), located
    assert located["suspects"] == needs, located


def test_a_property_that_ran_less_than_its_explicit_examples_and_a_draw_fails():
    from rnn_impl.testing.exceptions import PropertyFailure
    from rnn_impl.testing.runner import Verification, _require_examples

    _require_examples(BY_NAME["shapes"], Verification(examples=6), explicit=5)
    with pytest.raises(PropertyFailure, match="ran 5 examples: fewer than its explicit examples"):
        _require_examples(BY_NAME["shapes"], Verification(examples=5), explicit=5)


def test_the_worked_example_is_right_in_outputs_and_gradients_as_it_says(tmp_path):
    """examples/my_rnn.py's second command: a correct RNN that sums in another order passes
    the tolerance properties (it once failed output_close on nn.RNN's lucky rounding), and
    conversion (it once failed there: its adapter's joined bias, rounded in float32, was
    judged in float64)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = rnn_verify(
        *("--impl", "examples.my_rnn:MyRNN", "--adapter", "examples.my_rnn:MyAdapter"),
        *("--layout", "batched", "--fix", "batch_first=false", "--fix", "bidirectional=false"),
        *("--property", "output_close", "--property", "gradients", "--property", "conversion"),
        *("--device", "cpu", "--profile", "ci", "--repro-dir", str(tmp_path)),
        cwd=root,
    )
    assert run.returncode == 0, run.stdout[-3000:]


@pytest.mark.parametrize(
    "impl, passes, says",
    [
        ("KerasLSTM", True, "conforms: 2 passed"),
        ("TensorFlowOrderLSTM", False, "reordered to (i, g, f, o) it agrees with nn.LSTM"),
    ],
)
def test_the_keras_style_lstm_example_says_what_its_docstring_says(impl, passes, says, tmp_path):
    """examples/keras_lstm.py: the Keras-style LSTM (Keras' layout, gate order i, f, c, o)
    is right in outputs and gradients through its adapter; the one with TensorFlow's order
    fails, and its report names the order it reads."""
    from pathlib import Path

    run = rnn_verify(
        *("--impl", f"examples.keras_lstm:{impl}", "--adapter", "examples.keras_lstm:KerasAdapter"),
        *("--kind", "lstm", "--layout", "batched"),
        *("--fix", "bidirectional=false", "--fix", "proj_size=0"),
        *("--property", "output_close", "--property", "gradients"),
        *("--device", "cpu", "--dtype", "float64", "--profile", "ci"),
        *("--repro-dir", str(tmp_path)),
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert (run.returncode == 0) == passes, run.stdout[-3000:]
    assert says in run.stdout, run.stdout[-3000:]


@pytest.mark.parametrize("bug", ["CellOrderConstructor", "WrongParameterNames", "MissingBias"])
def test_the_reported_example_is_the_smallest_failing_one(bug):
    """Explicit covering rows run smallest first and are not shrunk: a failure that shows on
    every configuration is reported on the smallest (it was once input_size=3, num_layers=3,
    T=6, B=6 for positional_arguments)."""
    from hypothesis import settings

    from rnn_impl.testing.cases import case_size
    from rnn_impl.testing.zoo import ZOO

    chosen = next(b for b in ZOO if b.label == bug)
    prop = BY_NAME[chosen.caught_by]
    session = chosen.session(prop)
    verification = session.verify(session.home_runs()[0], settings.get_profile("ci"))
    assert verification.failed
    covering = prop.covering(*prop.home)
    assert verification.last == next(
        e for e in covering if _fails(prop, chosen.implementation(), e)
    ), "not the first (smallest) failing covering row"
    assert case_size(verification.last.config, verification.last.case) <= case_size(
        covering[-1].config, covering[-1].case
    )


def _fails(prop, implementation, example):
    try:
        prop.check(implementation, example)
    except Exception:
        return True
    return False


@pytest.mark.parametrize(
    "listed, profile, status, words",
    [
        ("repr-*  # its own repr\n", "ci", 0, "1 failed as expected"),
        ("repr-*  # own\nshapes-cpu-float32  # thought to\n", "ci", 1, "but passes: remove it"),
        ("repr-*  # own\nshapes-cpu-float32  # thought to\n", "dev", 0, "1 passed though expected"),
        ("repr-*\n", "ci", 2, "has no reason"),
    ],
)
def test_rnn_verify_reads_expected_failures(listed, profile, status, words, tmp_path):
    (tmp_path / "own.py").write_text(
        "import rnn_impl\n\n\nclass OwnRepr(rnn_impl.RNN):\n"
        "    def extra_repr(self):\n        return 'own'\n"
    )
    (tmp_path / "xfail.txt").write_text(listed)
    run = rnn_verify(
        *("--impl", "own:OwnRepr", "--property", "repr", "--property", "shapes"),
        *("--device", "cpu", "--dtype", "float32", "--profile", profile, "--max-examples", "4"),
        *("--expected-failures", str(tmp_path / "xfail.txt"), "--repro-dir", str(tmp_path)),
        cwd=tmp_path,
    )
    assert run.returncode == status, run.stdout + run.stderr
    assert words in run.stdout + run.stderr
