"""The seed notebook's MyRNN, as written and fixed (examples/notebook/), verified with no flag
but what narrows the run: bound, mapped and probed for the user, each reaches its verdict
and the broken one's report points at its bugs."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import rnn_verify

NOTEBOOK = Path(__file__).parent.parent / "examples" / "notebook"
NARROW = ("--profile", "ci", "--dtype", "float64", "--device", "cpu")


def test_the_notebook_as_written_is_rejected_for_its_layout_and_state():
    narrow = ("--profile", "ci", "--dtype", "float32", "--device", "cpu")
    run = rnn_verify("--impl", "my_rnn:MyRNN", *narrow, "--property", "output_close", cwd=NOTEBOOK)
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        "binding: MyRNN(input_size, hidden_size, layers_size=num_layers, first_batch=batch_first)"
        in run.stdout
    )
    assert "bh.0 <- bias_ih_l0 + bias_hh_l0" in run.stdout
    assert "unsupported: unbatched input" in run.stdout
    assert "h_n must be a Tensor, got list" in run.stdout
    assert (
        "departs: output has shape torch.Size([0, 1, 1]), nn.RNN's torch.Size([1, 0, 1])"
        in run.stdout
    )


def test_the_fixed_notebook_computes_what_nn_rnn_computes():
    props = ("--property", "output_close", "--property", "gradients", "--property", "conversion")
    run = rnn_verify("--impl", "my_rnn_fixed:MyRNN", *NARROW, *props, cwd=NOTEBOOK)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "numerics: computes what nn.RNN computes" in run.stdout


def test_the_mapping_written_as_an_adapter_verifies_the_same(tmp_path):
    """``--write-adapter`` writes the mapping it printed as an editable Adapter, which
    ``--adapter`` then loads by: the verdict is the same."""
    for module in ("my_rnn.py", "my_rnn_fixed.py"):
        (tmp_path / module).write_text((NOTEBOOK / module).read_text())
    written = rnn_verify(
        "--impl", "my_rnn_fixed:MyRNN", "--write-adapter", "my_adapter.py", cwd=tmp_path
    )
    assert written.returncode == 0, written.stdout + written.stderr
    assert "--adapter my_adapter:Adapter" in written.stdout
    assert (
        'found[f"bh.{layer}"] = (f"bias_ih_l{layer}", f"bias_hh_l{layer}")'
        in (tmp_path / "my_adapter.py").read_text()
    )
    props = ("--property", "output_close", "--property", "gradients")
    run = rnn_verify(
        "--impl",
        "my_rnn_fixed:MyRNN",
        "--adapter",
        "my_adapter:Adapter",
        *NARROW,
        *props,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "numerics: computes what nn.RNN computes" in run.stdout
    no_need = rnn_verify("--impl", "rnn_impl:RNN", "--write-adapter", "x.py", cwd=tmp_path)
    assert no_need.returncode == 2
    assert no_need.stderr == (
        "rnn-verify: error: --write-adapter: rnn_impl:RNN has torch's parameter names: it needs "
        "no adapter\n"
    )
