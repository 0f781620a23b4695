"""What the benchmarks run: shapes, targets, variants, and FLOP counts.

A variant is a callable ``x -> (output, h_n)`` with the same weights as nn.RNN's:

* ``nn.RNN``: torch's own (C++ time loop, autograd backward);
* ``rnn_impl``: the drop-in with its fast path (hand-written BPTT, TorchScript loops);
* ``notebook``: the seed notebook's loop (time outer, layers inner, projection inside);
* ``rnn_impl[autograd]``, ``rnn_impl[python]``, ``rnn_impl[scripted]``: the drop-in with the
  fast path off (step-by-step autograd over a hoisted projection), with its loops run as Python,
  and run by TorchScript but not under ``inference_mode``, to show what each technique buys;
* ``onnxruntime``: nn.RNN exported to ONNX and run by ONNX Runtime on the CPU, with torch's
  thread count (forward only; where the ``bench`` extra installed it), what an inference user
  might pick instead.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn

import rnn_impl
from rnn_impl import _bptt
from rnn_impl.testing.zoo.controls import StepByStepRNN
from tests.benchmarks.baselines import notebook_loop

SHAPES: dict[str, dict] = {
    "tiny": dict(batch=1, seq_len=100, input_size=32, hidden_size=32, num_layers=1),
    "mid": dict(batch=32, seq_len=100, input_size=64, hidden_size=128, num_layers=2),
    "bidirectional": dict(
        batch=16, seq_len=200, input_size=128, hidden_size=256, num_layers=2, bidirectional=True
    ),
    "large": dict(batch=64, seq_len=50, input_size=256, hidden_size=512, num_layers=1),
    "huge": dict(batch=128, seq_len=20, input_size=1024, hidden_size=1024, num_layers=1),
}
"""(batch, seq_len, input, hidden, layers[, bidirectional]), as in the performance issue."""

TARGETS: dict[str, dict[str, float]] = {
    "tiny": {"forward": 0.70, "forward+backward": 0.30},
    "mid": {"forward": 0.70, "forward+backward": 0.50},
    "bidirectional": {"forward": 0.65, "forward+backward": 0.50},
    "large": {"forward": 0.90, "forward+backward": 0.80},
    "huge": {"forward": 1.00, "forward+backward": 0.95},
}
"""rnn_impl's median time over nn.RNN's (forward without grad; forward + backward), at torch's
default threads: the targets of the speed-on-every-CPU issue."""

SLACK = 0.10
"""The ratio check fails when a measured ratio exceeds its target by more than this fraction:
interleaved medians on a shared 2-core machine still move by a few percent between runs."""

REGRESSION = 0.25
"""Bench history (:mod:`tests.benchmarks.history`) fails when an interleaved ratio grew by more
than this fraction over the last saved run on the same kind of CPU. Two back-to-back runs of
the same code on a shared 2-core Intel Xeon moved single ratios (of 20) by up to 17%, so a
smaller threshold would flag noise."""

SCALING_BASE = dict(batch=32, seq_len=100, input_size=64, hidden_size=128, num_layers=1)
SCALING = {
    "seq_len": [25, 50, 100, 200, 400],
    "batch": [8, 16, 32, 64, 128],
    "hidden_size": [32, 64, 128, 256, 512],
}
"""One-axis sweeps around ``SCALING_BASE`` (forward + backward), for the scaling plot."""

GEMM_SIZE = 2048
"""Side of the square float32 ``torch.mm`` whose rate stands for the machine's GEMM peak."""

VARIANTS = ["nn.RNN", "rnn_impl", "notebook", "onnxruntime"]
TECHNIQUES = ["rnn_impl[autograd]", "rnn_impl[python]", "rnn_impl[scripted]", "rnn_impl"]
"""Each adds one technique to the one before (see :func:`build`)."""


@dataclass(frozen=True)
class Bench:
    """A variant ready to run: ``run(x)`` returns ``(output, h_n)``."""

    run: Callable[[Tensor], tuple[Tensor, Tensor]]
    x: Tensor


def call(mode: str, bench: Bench) -> Callable[[], object]:
    """One timed call: forward without grad, forward with grad, or forward + backward."""
    if mode == "forward":

        def forward() -> object:
            with torch.no_grad():
                return bench.run(bench.x)

        return forward
    if mode == "forward-with-grad":
        return lambda: bench.run(bench.x)
    x = bench.x.detach().requires_grad_()

    def forward_backward() -> object:
        output, h_n = bench.run(x)
        (output.sum() + h_n.sum()).backward()
        return x.grad

    return forward_backward


def interleaved(
    runs: dict[str, Callable[[], object]],
    times: dict[str, list[float]],
    sync: Callable[[], None] = lambda: None,
) -> Callable[[], None]:
    """A round that calls every run once, in alternating order from round to round, and
    appends each one's wall time (``sync`` waits for the device) to ``times``."""
    order = list(runs)

    def round_() -> None:
        order.reverse()
        for name in order:
            sync()
            start = time.perf_counter()
            runs[name]()
            sync()
            times[name].append(time.perf_counter() - start)

    return round_


def warm_up(round_: Callable[[], None], times: dict[str, list[float]], count: int = 3) -> float:
    """Run ``count`` rounds, forget their samples, and return how long the last one took."""
    for _ in range(count):
        round_()
    last = sum(samples[-1] for samples in times.values())
    for samples in times.values():
        samples.clear()
    return last


def spec_of(shape: str | dict) -> dict:
    return dict(SHAPES[shape]) if isinstance(shape, str) else dict(shape)


def build(
    variant: str, shape: str | dict, dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> Bench:
    """``variant`` on ``shape`` (a name in :data:`SHAPES` or a spec), weights from seed 0."""
    spec = spec_of(shape)
    batch, seq_len = spec.pop("batch"), spec.pop("seq_len")
    torch.manual_seed(0)
    reference = nn.RNN(**spec, dtype=dtype, device=device)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(seq_len, batch, spec["input_size"], generator=g, dtype=dtype).to(device)
    if variant == "nn.RNN":
        return Bench(reference, x)
    if variant == "notebook":
        if spec.get("bidirectional"):
            pytest.skip("the notebook-style loop is unidirectional")
        return Bench(lambda inp: notebook_loop(reference, inp), x)
    if variant == "onnxruntime":
        return Bench(onnxruntime_run(reference, x), x)
    kind = StepByStepRNN if variant == "rnn_impl[autograd]" else rnn_impl.RNN
    impl = kind(**spec, dtype=dtype, device=device)
    impl.load_state_dict(reference.state_dict())
    switches = {
        "rnn_impl": {},
        "rnn_impl[autograd]": {},
        "rnn_impl[python]": {"SCRIPTED": False, "INFERENCE_MODE": False},
        "rnn_impl[scripted]": {"INFERENCE_MODE": False},
    }[variant]
    if not switches:
        return Bench(impl, x)

    def run(inp: Tensor) -> tuple[Tensor, Tensor]:
        with _bptt_switches(**switches):
            return impl(inp)

    return Bench(run, x)


def onnxruntime_run(reference: nn.RNN, x: Tensor) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """``reference`` exported to ONNX (TorchScript-based exporter: ONNX's RNN operator) and
    run by ONNX Runtime's CPU provider with torch's thread count; skips where the ``bench``
    extra is not installed, on other devices and dtypes, and for gradients (inference only)."""
    ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime: pip install -e '.[bench]'")
    pytest.importorskip("onnx", reason="ONNX: pip install -e '.[bench]'")
    if x.device.type != "cpu" or x.dtype != torch.float32:
        pytest.skip("ONNX Runtime is measured in float32 on the CPU")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(reference, (x,), buffer, input_names=["x"], dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def run(inp: Tensor) -> tuple[Tensor, Tensor]:
        if inp.requires_grad or torch.is_grad_enabled():
            pytest.skip("ONNX Runtime runs inference only (no gradients)")
        output, h_n = session.run(None, {"x": inp.numpy()})
        return torch.from_numpy(output), torch.from_numpy(h_n)

    return run


@contextlib.contextmanager
def _bptt_switches(**values: bool) -> Iterator[None]:
    saved = {name: getattr(_bptt, name) for name in values}
    for name, value in values.items():
        setattr(_bptt, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(_bptt, name, value)


def flops(shape: str | dict, backward: bool) -> float:
    """Floating-point operations of the matrix products (2 per multiply-add): per layer and
    direction ``2 T B H (I_l + H)``, ``I_l`` the layer's input width; backward does twice that
    (the gradients of the inputs and of the weights)."""
    spec = spec_of(shape)
    t, b, h = spec["seq_len"], spec["batch"], spec["hidden_size"]
    directions = 2 if spec.get("bidirectional") else 1
    total = 0.0
    for layer in range(spec["num_layers"]):
        width = spec["input_size"] if layer == 0 else directions * h
        total += directions * 2.0 * t * b * h * (width + h)
    return total * (3 if backward else 1)
