"""Turn a benchmark run's JSON into ``docs/benchmarks.md``, ``docs/benchmarks.svg`` and the
benchmark section of ``docs/speed.md``.

    python -m tests.benchmarks.report [--json .benchmarks/bench.json] [--docs docs]
                                      [--readme docs/speed.md]

Every number comes from the JSON that ``tox -e bench`` writes; the section between
``<!-- benchmarks:start -->`` and ``<!-- benchmarks:end -->`` is replaced.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from tests.benchmarks.history import kind_of
from tests.benchmarks.shapes import (
    GEMM_SIZE,
    SCALING,
    SCALING_BASE,
    SHAPES,
    SLACK,
    TARGETS,
    TECHNIQUES,
    flops,
)

START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
PLOTTED = ["nn.RNN", "rnn_impl", "notebook"]
TECHNIQUE_COLUMNS = ["nn.RNN", "notebook", *TECHNIQUES]


class Run:
    """One benchmark JSON: medians (seconds) by group and variant, GEMM rates by threads."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.median: dict[str, dict[str, float]] = defaultdict(dict)
        self.extra: dict[str, list[dict]] = defaultdict(list)
        self.gemm: dict[int, float] = {}
        for bench in data["benchmarks"]:
            group, info, median = bench["group"], bench["extra_info"], bench["stats"]["median"]
            self.extra[group].append(info)
            if group == "gemm-peak":
                self.gemm[info["threads"]] = info["flops"] / median / 1e9
            elif "value" in info:
                self.median[group][f"{info['variant']}@{info['value']}"] = median
            elif "variant" in info:
                self.median[group][info["variant"]] = median

    def gemm_peak(self) -> tuple[int, float]:
        """``(threads, GFLOP/s)`` of the float32 GEMM benchmark with the most threads."""
        threads = max(self.gemm)
        return threads, self.gemm[threads]

    def ratios(self) -> dict[tuple[str, str, str], float]:
        """``(shape, mode, threads label) -> ratio`` from the interleaved checks."""
        return {
            (info["shape"], info["mode"], info["threads"]): info["ratio"]
            for group, infos in self.extra.items()
            if group.startswith("ratio/")
            for info in infos
        }


def ratio_table(run: Run) -> str:
    ratios = run.ratios()
    labels = sorted({label for _, _, label in ratios}, key=lambda s: s.startswith("1"))
    head = "| shape | " + " | ".join(
        f"{mode} ({label})" for label in labels for mode in ("forward", "forward+backward")
    )
    lines = [head + " |", "|---" * (1 + 2 * len(labels)) + "|"]
    for shape in SHAPES:
        cells = []
        for label in labels:
            for mode in ("forward", "forward+backward"):
                ratio, target = ratios.get((shape, mode, label)), TARGETS[shape][mode]
                if ratio is None:
                    cells.append("-")
                    continue
                mark = "met" if ratio <= target else "within slack"
                if ratio > target * (1 + SLACK):
                    mark = "MISSED"
                cells.append(f"{ratio:.2f} (target {target}, {mark})")
        lines.append(f"| {shape} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3g}"


def technique_table(run: Run) -> str:
    lines = [
        "| shape | mode | " + " | ".join(TECHNIQUE_COLUMNS) + " |",
        "|---|---|" + "---|" * len(TECHNIQUE_COLUMNS),
    ]
    for shape in SHAPES:
        for mode in ("forward", "forward+backward"):
            medians = {**run.median[f"{shape}/{mode}/float32"]}
            medians.update(run.median[f"techniques/{shape}/{mode}"])
            base = medians.get("nn.RNN")
            cells = []
            for variant in TECHNIQUE_COLUMNS:
                value = medians.get(variant)
                ratio = f" ({value / base:.2f}x)" if value and base else ""
                cells.append(_ms(value) + ratio)
            lines.append(f"| {shape} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def onnxruntime_table(run: Run) -> str:
    """Forward medians of nn.RNN, rnn_impl and ONNX Runtime, and how far rnn_impl is from ORT
    on the tiny shape, per step ("" when the run has no ONNX Runtime measurement)."""
    rows, per_step = [], None
    for shape in SHAPES:
        medians = run.median[f"{shape}/forward/float32"]
        ort, ours, base = (medians.get(v) for v in ("onnxruntime", "rnn_impl", "nn.RNN"))
        if not (ort and ours and base):
            continue
        rows.append(
            f"| {shape} | {_ms(base)} | {_ms(ours)} | {_ms(ort)} | {ort / base:.2f} | "
            f"{ours / ort:.2f} |"
        )
        if shape == "tiny":
            steps = SHAPES[shape]["seq_len"]
            per_step = (ours / steps * 1e6, ort / steps * 1e6)
    if not rows:
        return ""
    head = [
        "| shape | nn.RNN ms | rnn_impl ms | ONNX Runtime ms | ORT / nn.RNN | rnn_impl / ORT |",
        "|---|---|---|---|---|---|",
    ]
    text = "\n".join(head + rows)
    if per_step is not None:
        text += (
            f"\n\nOn `tiny` (batch 1, 32 wide) rnn_impl's forward takes {per_step[0]:.1f} us a "
            f"step and ONNX Runtime's fused RNN kernel {per_step[1]:.1f} us: the step's "
            f"arithmetic (a 1x32 by 32x32 product) is a fraction of either, and what stands in "
            f"the way is the per-operation cost of dispatching three ATen operations a step "
            f"(`addmm`, `add_`, `tanh_`) from TorchScript's interpreter, which a pure-PyTorch "
            f"drop-in cannot fuse into one kernel as ORT does (see docs/profile.md)."
        )
    return text


def floor_table(run: Run) -> str:
    threads, peak = run.gemm_peak()
    lines = [
        f"GEMM peak (float32 {GEMM_SIZE}x{GEMM_SIZE} `torch.mm`, {threads} threads): **{peak:.0f} GFLOP/s**.",
        "",
        "| shape | mode | GEMM FLOPs | floor (ms) | "
        + " | ".join(f"{v} ms (x floor, GFLOP/s)" for v in PLOTTED)
        + " |",
        "|---|---|---|---|" + "---|" * len(PLOTTED),
    ]
    for shape in SHAPES:
        for mode in ("forward", "forward+backward"):
            work = flops(shape, backward=mode == "forward+backward")
            floor = work / (peak * 1e9)
            cells = []
            for variant in PLOTTED:
                t = run.median[f"{shape}/{mode}/float32"].get(variant)
                cells.append(
                    "-" if t is None else f"{t * 1e3:.3g} ({t / floor:.1f}x, {work / t / 1e9:.0f})"
                )
            lines.append(
                f"| {shape} | {mode} | {work / 1e6:.0f} M | {floor * 1e3:.3g} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines)


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares ``y = a + b x``: ``(a, b, R^2)``."""
    slope, intercept = statistics.linear_regression(xs, ys)
    mean = statistics.fmean(ys)
    total = sum((y - mean) ** 2 for y in ys)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    return intercept, slope, 1 - residual / total if total else 1.0


def scaling_series(run: Run, axis: str, variant: str) -> tuple[list[float], list[float]]:
    medians = run.median[f"scaling/{axis}"]
    points = [(v, medians.get(f"{variant}@{v}")) for v in SCALING[axis]]
    present = [(v, t) for v, t in points if t is not None]
    return [float(v) for v, _ in present], [t for _, t in present]


def scaling_table(run: Run) -> str:
    base = ", ".join(f"{k}={v}" for k, v in SCALING_BASE.items())
    lines = [
        f"Forward + backward around {base}; least-squares line `time = a + b * n`.",
        "",
        "| axis | variant | a (ms) | b (ms per unit) | R^2 | time ratio last/first | n ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for axis in ("seq_len", "batch"):
        for variant in PLOTTED:
            xs, ys = scaling_series(run, axis, variant)
            if len(xs) < 3:
                continue
            a, b, r2 = linear_fit(xs, ys)
            lines.append(
                f"| {axis} | {variant} | {a * 1e3:.3g} | {b * 1e3:.3g} | {r2:.4f} | "
                f"{ys[-1] / ys[0]:.1f} | {xs[-1] / xs[0]:.0f} |"
            )
    return "\n".join(lines)


def plot(run: Run, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "rnn_impl"  # the same JSON gives the same file
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    for ax, axis in zip(axes.flat, ("seq_len", "batch", "hidden_size")):
        for variant in PLOTTED:
            xs, ys = scaling_series(run, axis, variant)
            ax.plot(xs, [y * 1e3 for y in ys], marker="o", label=variant)
        ax.set_xlabel(axis)
        ax.set_ylabel("forward + backward, median ms")
        ax.set_title(f"time against {axis}")
        if axis == "hidden_size":
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
        ax.legend()
        ax.grid(alpha=0.3)
    ax = axes.flat[3]
    threads, peak = run.gemm_peak()
    width = 0.27
    for k, variant in enumerate(PLOTTED):
        rates = []
        for shape in SHAPES:
            t = run.median[f"{shape}/forward+backward/float32"].get(variant)
            rates.append(flops(shape, backward=True) / t / 1e9 if t else 0.0)
        ax.bar([i + (k - 1) * width for i in range(len(SHAPES))], rates, width, label=variant)
    ax.axhline(peak, color="black", linestyle="--", label=f"GEMM peak ({threads} threads)")
    ax.set_xticks(range(len(SHAPES)), list(SHAPES))
    ax.set_ylabel("GFLOP/s (matrix products only)")
    ax.set_title("forward + backward, achieved rate")
    ax.legend(fontsize="small")
    fig.suptitle(
        f"rnn_impl vs nn.RNN vs notebook loop, float32 CPU "
        f"({kind_of(run.data)}, {threads} threads)",
        fontsize="medium",
    )
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


def measured_on(run: Run) -> str:
    """The machine and versions a run was measured on, in one sentence."""
    machine = run.data.get("machine_info", {})
    ours = machine.get("rnn_impl", {})
    return (
        f"Measured on {kind_of(run.data)}, torch {ours.get('torch', '?')} "
        f"({ours.get('blas', '?')}; ATen {ours.get('cpu_capability', '?')}), Python "
        f"{machine.get('python_version', '?')}, {run.data.get('datetime', '?')}."
    )


def markdown(run: Run, json_path: str) -> str:
    return "\n\n".join(
        [
            "# Benchmarks",
            f"Generated by `python -m tests.benchmarks.report --json {json_path}` from a "
            f"`tox -e bench` run. {measured_on(run)} Medians; ratios are rnn_impl's time "
            f"over nn.RNN's, interleaved round by round (`test_ratio`). Do not edit by hand.",
            "![benchmarks](benchmarks.svg)",
            "## Ratios against the targets",
            ratio_table(run),
            f"The bench run fails when a default-threads ratio exceeds its target by more than "
            f"{SLACK:.0%} (`SLACK` in `tests/benchmarks/shapes.py`).",
            "## What each technique buys (median ms, ratio to nn.RNN)",
            "`notebook`: the seed's loop. `rnn_impl[autograd]`: projection hoisted out of the "
            "loop, step-by-step autograd. `rnn_impl[python]`: plus the hand-written BPTT "
            "Function and outputs written in place, loops in Python. `rnn_impl[scripted]`: "
            "plus TorchScript loops. `rnn_impl`: plus `inference_mode` around the loops "
            "(the default).",
            technique_table(run),
            "## Against ONNX Runtime (forward, inference)",
            "nn.RNN exported to ONNX and run by ONNX Runtime's CPU provider with the same "
            "threads, where the `bench` extra installed it: what an inference user might pick "
            "instead.",
            onnxruntime_table(run) or "ONNX Runtime was not installed for this run.",
            "## Distance from the GEMM-bound floor",
            "Floor: the shape's matrix-product FLOPs at the measured GEMM peak.",
            floor_table(run),
            "## Scaling",
            scaling_table(run),
        ]
    )


def summary(run: Run) -> str:
    """One line each on the GEMM-bound floor and on linear scaling, for the README."""
    threads, peak = run.gemm_peak()
    floors = []
    for shape in SHAPES:
        t = run.median[f"{shape}/forward+backward/float32"].get("rnn_impl")
        if t:
            floor = flops(shape, backward=True) / (peak * 1e9)
            floors.append(f"{shape} {t / floor:.1f}x")
    fits = []
    for axis in ("seq_len", "batch"):
        r2 = [linear_fit(*scaling_series(run, axis, v))[2] for v in PLOTTED]
        fits.append(f"{axis} R^2 >= {min(r2):.3f}")
    return (
        f"Forward + backward of rnn_impl against the GEMM-bound floor (the shape's matrix "
        f"products at the measured {peak:.0f} GFLOP/s, {threads} threads): "
        + ", ".join(floors)
        + ". Time against a straight line in n, all three variants: "
        + "; ".join(fits)
        + "."
    )


def update_readme(readme: Path, run: Run) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"report: {readme} has no {START} ... {END} section")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = "\n".join(
        [
            "",
            "![benchmarks](benchmarks.svg)",
            "",
            f"Ratios (rnn_impl's median time over nn.RNN's, interleaved). {measured_on(run)}",
            "",
            ratio_table(run),
            "",
            summary(run),
            "",
            "Full tables (techniques, GEMM floor, scaling): [docs/benchmarks.md](benchmarks.md).",
            "",
        ]
    )
    readme.write_text(head + START + body + END + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.report")
    parser.add_argument("--json", default=".benchmarks/bench.json")
    parser.add_argument("--docs", default="docs")
    parser.add_argument("--readme", default="docs/speed.md")
    args = parser.parse_args(argv)
    try:
        run = Run(json.loads(Path(args.json).read_text()))
    except (OSError, ValueError, KeyError) as error:
        print(f"report: cannot read {args.json}: {error}", file=sys.stderr)
        return 2
    docs = Path(args.docs)
    docs.mkdir(exist_ok=True)
    plot(run, docs / "benchmarks.svg")
    (docs / "benchmarks.md").write_text(markdown(run, args.json) + "\n")
    update_readme(Path(args.readme), run)
    print(f"wrote {docs / 'benchmarks.md'}, {docs / 'benchmarks.svg'}, {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
