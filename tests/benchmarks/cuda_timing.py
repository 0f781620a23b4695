"""nn.RNN (cuDNN) against rnn_impl on a CUDA device, the benchmark shapes, float32.

    python -m tests.benchmarks.cuda_timing [--rounds N]

Prints interleaved medians and ratios. For information only: the targets are CPU targets,
and on CUDA nn.RNN runs cuDNN's fused kernels while rnn_impl launches a few kernels a step.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch

from tests.benchmarks.shapes import SHAPES, build, call, interleaved, warm_up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.cuda_timing")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("cuda_timing: no CUDA device", file=sys.stderr)
        return 2
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    print(f"{'shape':14} {'mode':17} {'nn.RNN ms':>10} {'rnn_impl ms':>12} {'ratio':>7}")
    for shape in SHAPES:
        for mode in ("forward", "forward+backward"):
            runs = {v: call(mode, build(v, shape, device="cuda")) for v in ("nn.RNN", "rnn_impl")}
            times: dict[str, list[float]] = {v: [] for v in runs}
            round_ = interleaved(runs, times, torch.cuda.synchronize)
            warm_up(round_, times)
            for _ in range(args.rounds):
                round_()
            nn_ms, impl_ms = (statistics.median(times[v]) * 1e3 for v in runs)
            print(f"{shape:14} {mode:17} {nn_ms:10.3f} {impl_ms:12.3f} {impl_ms / nn_ms:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
