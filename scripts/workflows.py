"""torch's recurrent modules and rnn_impl's drop-ins in PyTorch's workflows, run here and now:
``torch.compile`` (inductor, the default; its first call, a second sequence length, the result
against eager), ``torch.export`` (static shapes; a dynamic sequence length, saved and loaded)
and ONNX (torch's dynamo exporter with a dynamic length, rnn_impl's translations for the
drop-ins, run by ONNX Runtime on a length it was not traced with; the TorchScript exporter
likewise). 2 layers, bidirectional, input 8, hidden 16, batch 3, sequence length 50 (then
57), no grad. Compile times are cold (inductor's caches are off), after inductor's one-time
start-up (a small function compiled first).

    python scripts/workflows.py --out docs/workflows.md
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ["TORCHINDUCTOR_FORCE_DISABLE_CACHES"] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.export import Dim  # noqa: E402

import rnn_impl  # noqa: E402
import rnn_impl.onnx  # noqa: E402
from rnn_impl.testing.machine import cpu_kind  # noqa: E402

KWARGS = {"num_layers": 2, "bidirectional": True}
FIRST, SECOND = 50, 57
LARGE, LARGE_BATCH, LARGE_CALLS = 128, 16, 31
"""The larger module of the last two rows: input and hidden size, batch, calls timed."""


def flat(result: object) -> list[torch.Tensor]:
    return torch.utils._pytree.tree_leaves(result)


def compare(got: list[torch.Tensor], want: list[torch.Tensor]) -> str:
    """ "identical", or the largest absolute difference."""
    if all(torch.equal(a, b) for a, b in zip(got, want)):
        return "identical"
    return f"differs (max {max(float((a - b).abs().max()) for a, b in zip(got, want)):.1e})"


def under_autocast(module: nn.Module, x: torch.Tensor) -> str:
    """Seconds of a freshly compiled module's first call under CPU autocast (bfloat16), and
    whether its results are eager's under the same autocast."""
    torch._dynamo.reset()
    compiled = torch.compile(module)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        start = time.perf_counter()
        got = flat(compiled(x))
        took = time.perf_counter() - start
        return f"{took:.1f} s, " + compare(got, flat(module(x)))


def first_step(module: nn.Module, x: torch.Tensor) -> list[str]:
    """Seconds of a freshly compiled module's first forward and backward (a training step's
    compile: the backward graph too), whether its gradients are eager's, and the compiled
    step's time over eager's."""
    torch._dynamo.reset()
    compiled = torch.compile(module)
    start = time.perf_counter()
    got = gradients(compiled, x)
    took = time.perf_counter() - start
    ratio = time_ratio(lambda x: gradients(compiled, x), lambda x: gradients(module, x), x)
    return [f"{took:.1f} s, gradients " + compare(got, gradients(module, x)), f"{ratio:.2f}"]


def larger(module: nn.Module) -> str:
    """The compiled time over eager's of ``module`` (input and hidden :data:`LARGE`, batch
    :data:`LARGE_BATCH`), its forward and its training step, :data:`LARGE_CALLS` calls each."""
    x = torch.randn(FIRST, LARGE_BATCH, LARGE)
    torch._dynamo.reset()
    compiled = torch.compile(module)
    with torch.no_grad():
        forward = time_ratio(compiled, module, x, LARGE_CALLS)
    step = time_ratio(
        lambda x: gradients(compiled, x), lambda x: gradients(module, x), x, LARGE_CALLS
    )
    return f"{forward:.2f}; {step:.2f}"


def gradients(module: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    x = x.clone().requires_grad_()
    params = list(module.parameters())
    loss = sum(o.sum() for o in flat(module(x)))
    return list(torch.autograd.grad(loss, [x, *params]))


def time_ratio(
    compiled: Callable[..., object],
    eager: Callable[..., object],
    x: torch.Tensor,
    calls: int = 101,
) -> float:
    """The median time of ``compiled``'s forward over ``x`` over ``eager``'s, the two called
    in turn ``calls`` times each (after one call each to warm up), so that load hits both
    alike."""
    times: dict[Callable[..., object], list[float]] = {compiled: [], eager: []}
    for module in times:
        module(x)
    for _ in range(calls):
        for module, taken in times.items():
            start = time.perf_counter()
            module(x)
            taken.append(time.perf_counter() - start)
    compiled_times, eager_times = (sorted(t) for t in times.values())
    return compiled_times[calls // 2] / eager_times[calls // 2]


def attempt(run: Callable[[], str]) -> str:
    """What ``run`` says, or "fails: " and the first line of its error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run()
    except Exception as error:  # a workflow that fails is a result of this table
        line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"fails: {line[:70]}"


def row(name: str, module: nn.Module, eager: nn.Module) -> list[str]:
    """The cells of one module's column: ``eager`` gives the reference results (torch's
    module for ONNX, the module itself elsewhere)."""
    x = torch.randn(FIRST, 3, 8)
    y = torch.randn(SECOND, 3, 8)
    cells = []
    torch._dynamo.reset()
    compiled = torch.compile(module)
    with torch.no_grad():
        start = time.perf_counter()
        first = compiled(x)
        cells.append(f"{time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        second = compiled(y)
        cells.append(f"{time.perf_counter() - start:.1f} s")
        cells.append(compare(flat(first) + flat(second), flat(module(x)) + flat(module(y))))
        cells.append(f"{time_ratio(compiled, module, x):.2f}")
    cells.append(under_autocast(module, x))
    cells += first_step(module, x)
    with torch.no_grad():

        def static() -> str:
            program = torch.export.export(module, (x,))
            return "works, " + compare(flat(program.module()(x)), flat(module(x)))

        def dynamic() -> str:
            seq = Dim("seq", min=2)
            program = torch.export.export(module, (x,), dynamic_shapes=({0: seq},))
            buffer = io.BytesIO()
            torch.export.save(program, buffer)
            buffer.seek(0)
            loaded = torch.export.load(buffer).module()
            return f"works, saved and loaded, at {SECOND}: " + compare(
                flat(loaded(y)), flat(module(y))
            )

        cells += [attempt(static), attempt(dynamic)]
        cells.append(attempt(lambda: onnx(module, x, y, eager, dynamo=True)))
        cells.append(attempt(lambda: onnx(module, x, y, eager, dynamo=False)))
    return cells


def onnx(
    module: nn.Module, x: torch.Tensor, y: torch.Tensor, eager: nn.Module, dynamo: bool
) -> str:
    """Export at length ``x``, run ONNX Runtime at ``y``'s: its distance from ``eager``."""
    import onnxruntime

    options: dict[str, object] = {"dynamo": dynamo}
    if dynamo:
        options["dynamic_shapes"] = ({0: Dim("seq", min=2)},)
        if isinstance(module, rnn_impl.RNN | rnn_impl.GRU | rnn_impl.LSTM):
            options["custom_translation_table"] = rnn_impl.onnx.TRANSLATIONS
    else:
        options["dynamic_axes"] = {"x": {0: "seq"}}
        options["input_names"] = ["x"]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.onnx")
        program = torch.onnx.export(module, (x,), path if not dynamo else None, **options)
        if dynamo:
            program.save(path)
        session = onnxruntime.InferenceSession(path)
        got = session.run(None, {session.get_inputs()[0].name: y.numpy()})
    want = flat(eager(y))
    worst = max(float((torch.from_numpy(a) - b).abs().max()) for a, b in zip(got, want))
    return f"works at {SECOND}, max diff from nn {worst:.1e}"


ROWS = [
    "`torch.compile`, first call",
    f"same module, new seq_len {SECOND}",
    "compiled result vs eager",
    "compiled time / eager time (forward, medians of 101 calls in turn)",
    "`torch.compile` under CPU autocast (bfloat16), first call, result vs eager",
    "`torch.compile`, first forward and backward (a training step)",
    "compiled time / eager time (forward and backward, medians of 101 steps in turn)",
    "`torch.export.export`, static shapes",
    "`torch.export.export`, dynamic seq_len (`Dim`)",
    f"ONNX, dynamo exporter, dynamic seq_len, ONNX Runtime at {SECOND}",
    f"ONNX, TorchScript exporter (dynamic_axes), ONNX Runtime at {SECOND}",
    f"compiled time / eager time at input and hidden {LARGE}, batch {LARGE_BATCH} (forward; "
    f"forward and backward; medians of {LARGE_CALLS} in turn)",
]


NOTES = """\
torch's modules take no time to compile because Dynamo does not trace them
(`torch._dynamo.config.allow_rnn` is False): they run eagerly inside the compiled module. A
drop-in's stack of layers is one operation to the compiler (`rnn_impl.ops`), whose kernel is
the eager stack: compile time does not grow with the length, a second length recompiles once (the
default `dynamic=None`; none with `dynamic=True`), and the results and gradients are eager's
(tests/test_compile.py). Switching between grad and no-grad recompiles once, as for any
module. Speed: a compiled forward saves the Python of eager's forward (argument checks,
layout) but pays torch's fixed cost of a compiled call (Dynamo's guards, AOTAutograd's
wrapper, inductor's checks of its inputs; torch's own modules, run eagerly inside, pay it too)
and one call into the operation (its Python dispatch, below autograd). In a compiled training
step the forward's kernel records eager's graph and the backward operation runs it (found by
the token the forward returned), so the recurrence runs once, as in eager; the step pays the
fixed cost, two calls into operations and a second autograd pass inside the backward's.
These costs are per call, so they weigh most on a small module; compiled, the drop-ins are
still not faster than eager at the larger size (the last row), and an Elman stack, whose
eager path is the fastest, loses the most. ONNX: the dynamo exporter with rnn_impl's translations writes ONNX's own RNN / GRU /
LSTM operators (an LSTM with `proj_size` is refused: ONNX's LSTM has no projection); the
TorchScript exporter traces the eager layer, unrolled to the traced length, so it runs at
that length only. torch's compile caches know an operation by its name, not its Python: after
upgrading rnn_impl, clear them (`rm -rf /tmp/torchinductor_$USER`, or the folder
`TORCHINDUCTOR_CACHE_DIR` names), or a graph cached with the older operations may be reused;
export a saved program again likewise.

```python
import torch, rnn_impl, rnn_impl.onnx
from torch.export import Dim

model = rnn_impl.LSTM(8, 16, num_layers=2, batch_first=True)
x = torch.randn(3, 50, 8)
seq = {1: Dim("seq", min=2)}  # the time dimension: 1 with batch_first, else 0

program = torch.export.export(model, (x,), dynamic_shapes=(seq,))
torch.export.save(program, "lstm.pt2")
# in another process: import rnn_impl.ops first (it registers the operations), then
loaded = torch.export.load("lstm.pt2").module()

onnx_program = torch.onnx.export(
    model,
    (x,),
    dynamo=True,
    dynamic_shapes=(seq,),
    custom_translation_table=rnn_impl.onnx.TRANSLATIONS,
)
onnx_program.save("lstm.onnx")  # onnxruntime.InferenceSession("lstm.onnx") runs any length
```"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="markdown file (default: stdout)")
    args = parser.parse_args()
    columns, names = [], []
    wall = time.monotonic()
    torch.compile(lambda t: t.sin() + 1)(torch.randn(3))  # inductor's one-time start-up
    for family in ("RNN", "GRU", "LSTM"):
        torch.manual_seed(0)
        theirs = getattr(nn, family)(8, 16, **KWARGS).eval()
        ours = getattr(rnn_impl, family)(8, 16, **KWARGS).eval()
        ours.load_state_dict(theirs.state_dict())
        large = (getattr(m, family)(LARGE, LARGE, **KWARGS).eval() for m in (nn, rnn_impl))
        for label, module, big in zip(
            (f"nn.{family}", f"rnn_impl.{family}"), (theirs, ours), large
        ):
            names.append(label)
            columns.append([*row(label, module, theirs), larger(big)])
    lines = [
        "# The drop-ins in PyTorch's workflows",
        "",
        f"Generated by `python scripts/workflows.py --out docs/workflows.md` on {cpu_kind()},",
        f"torch {torch.__version__}, in {time.monotonic() - wall:.0f} s.",
        "",
        __doc__.split("\n\n")[0],
        "",
        "| | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for index, title in enumerate(ROWS):
        lines.append(f"| {title} | " + " | ".join(c[index] for c in columns) + " |")
    lines += ["", NOTES]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
