"""The drop-ins exported to ONNX with rnn_impl.onnx's translations (torch's dynamo exporter)
and run by ONNX Runtime on lengths they were not traced with: within float32 rounding of
torch's modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.export import Dim

import rnn_impl

ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime comes with the test extra")
rnn_onnx = pytest.importorskip("rnn_impl.onnx", reason="onnxscript comes with the test extra")

MODULES = {
    "RNN": ("RNN", {"num_layers": 2, "bidirectional": True}),
    "RNN_relu_no_bias": ("RNN", {"nonlinearity": "relu", "bias": False}),
    "GRU": ("GRU", {"num_layers": 2, "bidirectional": True}),
    "LSTM": ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
}


def export(module, args, dynamic_shapes, path):
    program = torch.onnx.export(
        module,
        args,
        dynamo=True,
        dynamic_shapes=dynamic_shapes,
        custom_translation_table=rnn_onnx.TRANSLATIONS,
        verbose=False,
    )
    program.save(str(path))
    return ort.InferenceSession(str(path))


def run(session, *args):
    names = [i.name for i in session.get_inputs()]
    return [
        torch.from_numpy(r) for r in session.run(None, dict(zip(names, (a.numpy() for a in args))))
    ]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", MODULES)
def test_onnx_runtime_runs_other_lengths_within_float32_rounding(name, tmp_path):
    family, kwargs = MODULES[name]
    torch.manual_seed(0)
    module = getattr(rnn_impl, family)(3, 4, **kwargs).eval()
    reference = getattr(nn, family)(3, 4, **kwargs).eval()
    reference.load_state_dict(module.state_dict())
    time = 1 if kwargs.get("batch_first") else 0
    x = torch.randn(2, 5, 3) if time else torch.randn(5, 2, 3)
    session = export(module, (x,), ({time: Dim("seq", min=2)},), tmp_path / "m.onnx")
    for length in (2, 9):
        x = torch.randn(2, length, 3) if time else torch.randn(length, 2, 3)
        with torch.no_grad():
            expected = torch.utils._pytree.tree_leaves(reference(x))
        got = run(session, x)
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("family", ["RNNCell", "GRUCell", "LSTMCell"])
def test_onnx_cells_within_float32_rounding(family, tmp_path):
    torch.manual_seed(0)
    cell = getattr(rnn_impl, family)(3, 4)
    reference = getattr(nn, family)(3, 4)
    reference.load_state_dict(cell.state_dict())
    x = torch.randn(2, 3)
    session = export(cell, (x,), None, tmp_path / "c.onnx")
    with torch.no_grad():
        expected = torch.utils._pytree.tree_leaves(reference(x))
    for a, b in zip(run(session, x), expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore")
def test_an_lstm_with_a_projection_is_refused_with_its_fix(tmp_path):
    module = rnn_impl.LSTM(3, 4, proj_size=2).eval()
    with pytest.raises(Exception, match="proj_size") as raised:
        export(module, (torch.randn(5, 2, 3),), None, tmp_path / "p.onnx")
    assert "torch.export" in str(raised.value)


@pytest.mark.filterwarnings("ignore")
def test_exported_in_training_mode_dropout_draws_at_run_time(tmp_path):
    """Not a mask frozen into the file at export: each run of ONNX Runtime draws its own."""
    module = rnn_impl.LSTM(3, 4, num_layers=2, dropout=0.5).train()
    x = torch.randn(5, 2, 3)
    session = export(module, (x,), None, tmp_path / "d.onnx")
    assert not torch.equal(run(session, x)[0], run(session, x)[0])
