"""Where the fast path (rnn_impl._bptt) runs and where the step-by-step loop does.

Both give nn.RNN's results, so the correctness tests cannot tell them apart; these tests pin
the choice itself, which decides speed (and, in float16 / bfloat16 on the CPU, that gradients
follow nn.RNN's operation order).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.autograd import forward_ad
from torch.func import vmap

import rnn_impl
from rnn_impl import _bptt

CASES = {
    # name: (dtype, requires_grad, h0 dtype, expected)
    "float32 with grad": (torch.float32, True, None, True),
    "float32 no grad": (torch.float32, False, None, True),
    "float64 with grad": (torch.float64, True, None, True),
    "float16 no grad": (torch.float16, False, None, True),
    "float16 with grad": (torch.float16, True, None, False),
    "bfloat16 with grad": (torch.bfloat16, True, None, False),
    "h0 of another dtype": (torch.float32, False, torch.float64, False),
}


def layer_args(dtype, requires_grad, h0_dtype=None):
    x = torch.randn(5, 2, 3, dtype=dtype, requires_grad=requires_grad)
    h0 = torch.zeros(2, 4, dtype=h0_dtype or dtype)
    weights = (torch.randn(4, 3, dtype=dtype), torch.randn(4, 4, dtype=dtype), None, None)
    return x, h0, weights


@pytest.mark.parametrize("name", list(CASES))
def test_applies(name):
    dtype, requires_grad, h0_dtype, expected = CASES[name]
    x, h0, weights = layer_args(dtype, requires_grad, h0_dtype)
    assert _bptt.applies(x, h0, weights, torch.tanh) is expected
    assert _bptt.applies(x, h0, weights, torch.relu) is expected


def test_not_for_other_activations():
    x, h0, weights = layer_args(torch.float32, True)
    assert not _bptt.applies(x, h0, weights, torch.sigmoid)


def test_not_under_transforms_tracing_forward_ad_or_autocast():
    x, h0, weights = layer_args(torch.float32, True)
    seen = []

    def probe(t):
        seen.append(_bptt.applies(t, h0, weights, torch.tanh))
        return t

    vmap(probe)(x.unsqueeze(0))
    torch.jit.trace(probe, (x,), check_trace=False)
    with forward_ad.dual_level():
        probe(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        probe(x)
    assert seen == [False, False, False, False]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_training_graph_goes_through_the_function(nonlinearity, bidirectional):
    rnn = rnn_impl.RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, bidirectional=bidirectional)
    x = torch.randn(5, 2, 3, requires_grad=True)
    output, h_n = rnn(x)
    nodes, seen, stack = set(), set(), [output.grad_fn, h_n.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        nodes.add(type(node).__name__)
        stack.extend(next_fn for next_fn, _ in node.next_functions)
    assert "LayerFunctionBackward" in nodes
    assert "TanhBackward0" not in nodes and "ReluBackward0" not in nodes


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("leaf", ["x", "h0", "W_hh", "b_hh"])
def test_half_precision_cpu_gradients_for_any_one_leaf_take_the_step_by_step_loop(dtype, leaf):
    x, h0, (w_ih, w_hh, _, _) = layer_args(dtype, False)
    weights = (w_ih, w_hh, torch.zeros(4, dtype=dtype), torch.zeros(4, dtype=dtype))
    {"x": x, "h0": h0, "W_hh": weights[1], "b_hh": weights[3]}[leaf].requires_grad_()
    assert not _bptt.applies(x, h0, weights, torch.tanh)
    with torch.no_grad():
        assert _bptt.applies(x, h0, weights, torch.tanh)


@pytest.mark.parametrize("leaf", ["x", "h0", "W_ih"])
def test_graph_when_any_one_leaf_requires_grad(leaf):
    x, h0, weights = layer_args(torch.float32, False)
    {"x": x, "h0": h0, "W_ih": weights[0]}[leaf].requires_grad_()
    out, h_last = _bptt.padded_layer(x, h0, weights, torch.tanh, False)
    assert out.requires_grad and h_last.requires_grad


@pytest.mark.parametrize("grad", [False, True], ids=["no-grad", "with-grad"])
def test_no_inference_tensor_escapes(grad):
    """The loops run under inference_mode; what they return must still serve autograd later
    (an inference tensor cannot be saved for backward) and take in-place updates."""
    rnn = rnn_impl.RNN(3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 2, 3, requires_grad=grad)
    with torch.set_grad_enabled(grad):
        output, h_n = rnn(x)
    assert not output.is_inference() and not h_n.is_inference()
    weight = torch.randn(output.shape, requires_grad=True)
    ((output * weight).sum() + (h_n * h_n).sum()).backward()
    grads = [weight.grad, *(p.grad for p in rnn.parameters() if p.grad is not None)]
    grads += [x.grad] if grad else []
    assert grads[0] is not None and not any(g.is_inference() for g in grads)
    output.add_(1)


@pytest.mark.parametrize("loop", [_bptt.forward_steps, _bptt.backward_steps])
def test_the_loops_compile_without_a_warning(loop, monkeypatch):
    """The speed of the fast path rests on TorchScript; torch 2.13+ warns on every script."""
    monkeypatch.setattr(_bptt, "_scripted", {})
    monkeypatch.setattr(_bptt, "_compiled", {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _bptt._loop(loop)
    assert isinstance(_bptt._scripted[loop], torch.jit.ScriptFunction)
    assert [str(w.message) for w in caught] == []
