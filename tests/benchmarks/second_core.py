"""An experiment, not a feature: the two directions of each bidirectional layer run on two
threads, against rnn_impl's sequential forward and nn.RNN's.

    python -m tests.benchmarks.second_core [--shape bidirectional] [--rounds 30]
    OMP_WAIT_POLICY=PASSIVE python -m tests.benchmarks.second_core   # the same, idle threads asleep

Each direction's projection and loop (:func:`rnn_impl._bptt._project_and_loop`) runs on a
worker thread. The workers' own ATen and MKL thread counts are set to 1 (``omp_set_num_threads``
and MKL's ``MKL_Set_Num_Threads_Local``, thread-local, reached through ``ctypes``: torch has no
public per-thread setting, and ``torch.set_num_threads`` also changes what the user's threads
get); the caller's settings stay as they are. It prints interleaved medians, whether the
outputs are nn.RNN's bit for bit, and the ratios. What it showed, and why rnn_impl does not do
this, is in docs/how-it-works.md ("The second core").
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
from concurrent.futures import ThreadPoolExecutor

import torch

from rnn_impl import _bptt
from tests.benchmarks.shapes import SHAPES, interleaved, spec_of, warm_up


def _one_thread_here() -> None:
    lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    torch.get_num_threads()  # ATen's lazy per-thread set-up first, so it cannot undo ours
    ctypes.CDLL(os.path.join(lib, "libgomp.so.1")).omp_set_num_threads(1)
    ctypes.CDLL(os.path.join(lib, "libtorch_cpu.so")).MKL_Set_Num_Threads_Local(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.second_core")
    parser.add_argument("--shape", default="bidirectional", choices=list(SHAPES))
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    spec = spec_of(args.shape)
    if not spec.get("bidirectional"):
        print(f"second_core: {args.shape} is not bidirectional", flush=True)
        return 2
    batch, seq_len = spec.pop("batch"), spec.pop("seq_len")
    torch.manual_seed(0)
    reference = torch.nn.RNN(**spec)
    x = torch.randn(seq_len, batch, spec["input_size"], generator=torch.Generator().manual_seed(1))
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    weights = [
        tuple(getattr(reference, f"{n}_l{layer}{suffix}").detach() for n in names)
        for layer in range(spec["num_layers"])
        for suffix in ("", "_reverse")
    ]
    h0 = torch.zeros(batch, spec["hidden_size"])
    pool = ThreadPoolExecutor(2, initializer=_one_thread_here)

    def stack(concurrent: bool) -> torch.Tensor:
        layer_input = x
        for layer in range(spec["num_layers"]):
            pair = weights[2 * layer : 2 * layer + 2]
            if concurrent:
                futures = [
                    pool.submit(_bptt._project_and_loop, layer_input, h0, w, False, d == 1)
                    for d, w in enumerate(pair)
                ]
                outs = [f.result() for f in futures]
            else:
                outs = [
                    _bptt._project_and_loop(layer_input, h0, w, False, d == 1)
                    for d, w in enumerate(pair)
                ]
            layer_input = torch.cat(outs, -1)
        return layer_input

    with torch.no_grad():
        expected = reference(x)[0]
        exact = {c: torch.equal(stack(c), expected) for c in (False, True)}
        runs = {
            "nn.RNN": lambda: reference(x),
            "sequential": lambda: stack(False),
            "two threads": lambda: stack(True),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        round_ = interleaved(runs, times)
        warm_up(round_, times)
        for _ in range(args.rounds):
            round_()
    pool.shutdown()
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"{args.shape} forward, {torch.get_num_threads()} threads in the caller, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, {args.rounds} rounds"
    )
    for name, median in medians.items():
        ratio = median / medians["nn.RNN"]
        print(f"  {name:12s} {median * 1e3:8.2f} ms  ratio {ratio:.3f}")
    print(f"  bit-exact with nn.RNN: sequential {exact[False]}, two threads {exact[True]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
