"""Bench history: compare the newest saved benchmark run with the last one from the same kind
of CPU, and fail on a regression.

    python -m tests.benchmarks.history [--storage .benchmarks/history] [--json RUN.json]

``tox -e bench`` saves every run under ``--storage`` (pytest-benchmark's ``--benchmark-autosave``,
with the machine description :func:`machine_info` adds) and then runs this. The run compared is
``--json``, else the newest run saved; the baseline is the newest earlier run whose
:func:`cpu_kind` is the same. A run is compared by its interleaved ratios (``test_ratio``:
rnn_impl's median over nn.RNN's, measured round by round in the same process), which carry
across days and machines of one kind far better than absolute times; absolute medians are
printed beside them for information. Exit status 1 when a ratio grew by more than
:data:`tests.benchmarks.shapes.REGRESSION`, 2 when a file cannot be read, 0 otherwise
(including when no earlier run of this CPU kind exists: the run becomes the first baseline).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from rnn_impl.testing.machine import cpu_kind
from tests.benchmarks.shapes import REGRESSION

RatioKey = tuple[str, str, str]
"""``(shape, mode, threads label)`` of an interleaved ratio check."""


def machine_info() -> dict[str, object]:
    """What a saved run records of the machine beyond pytest-benchmark's own fields: the CPU
    kind, torch, its BLAS and ISA level, and torch's default thread count."""
    import cpuinfo
    import torch

    cpu = cpuinfo.get_cpu_info()
    config = torch.__config__.show().splitlines()
    return {
        "cpu_kind": cpu_kind(cpu),
        "torch": torch.__version__,
        "blas": next((line.strip(" -") for line in config if "Math Kernel" in line), "?"),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }


def kind_of(run: dict) -> str:
    """The CPU kind a saved run's JSON records (runs saved before it was recorded: derived
    from pytest-benchmark's own CPU fields)."""
    machine = run.get("machine_info", {})
    recorded = machine.get("rnn_impl", {}).get("cpu_kind")
    return recorded if recorded else cpu_kind(machine.get("cpu", {}))


@dataclass(frozen=True)
class SavedRun:
    """One saved benchmark JSON."""

    path: Path
    data: dict

    @property
    def kind(self) -> str:
        return kind_of(self.data)

    @property
    def when(self) -> str:
        return str(self.data.get("datetime", ""))

    def ratios(self) -> dict[RatioKey, float]:
        return {
            (info["shape"], info["mode"], info["threads"]): info["ratio"]
            for bench in self.data.get("benchmarks", [])
            if (info := bench.get("extra_info", {})) and "ratio" in info
        }

    def medians(self) -> dict[str, float]:
        """Benchmark name -> median seconds."""
        return {b["fullname"]: b["stats"]["median"] for b in self.data.get("benchmarks", [])}


def load(path: Path) -> SavedRun:
    return SavedRun(path, json.loads(path.read_text()))


def saved_runs(storage: Path) -> list[SavedRun]:
    """Every run under ``storage``, oldest first (by the time each run started)."""
    return sorted((load(p) for p in storage.rglob("*.json")), key=lambda r: r.when)


def baseline(current: SavedRun, runs: list[SavedRun]) -> SavedRun | None:
    """The newest run before ``current`` on the same kind of CPU."""
    earlier = [
        r
        for r in runs
        if r.kind == current.kind and r.when < current.when and r.path != current.path
    ]
    return earlier[-1] if earlier else None


@dataclass(frozen=True)
class Change:
    key: RatioKey
    before: float
    after: float

    @property
    def growth(self) -> float:
        return self.after / self.before - 1

    @property
    def regressed(self) -> bool:
        return self.growth > REGRESSION


def compare(current: SavedRun, base: SavedRun) -> list[Change]:
    """The interleaved ratios both runs measured, before and after."""
    before, after = base.ratios(), current.ratios()
    return [Change(key, before[key], after[key]) for key in sorted(after) if key in before]


def report(current: SavedRun, base: SavedRun, changes: list[Change]) -> str:
    lines = [
        f"bench history: {current.path.name} ({current.when}) against {base.path.name} "
        f"({base.when}), both on {current.kind}",
        "| shape | mode | threads | ratio before | ratio now | change | |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in changes:
        mark = f"REGRESSION (> +{REGRESSION:.0%})" if c.regressed else ""
        lines.append(
            f"| {' | '.join(c.key)} | {c.before:.3f} | {c.after:.3f} | {c.growth:+.1%} | {mark} |"
        )
    before, after = base.medians(), current.medians()
    moved = [
        (name, after[name] / before[name] - 1)
        for name in sorted(after)
        if name in before and "rnn_impl" in name and before[name] > 0
    ]
    if moved:
        slowest = max(moved, key=lambda m: m[1])
        lines.append(
            f"absolute medians of rnn_impl's benchmarks (information; the machine's load moves "
            f"them): {len(moved)} compared, largest change {slowest[1]:+.1%} ({slowest[0]})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.history")
    parser.add_argument("--storage", type=Path, default=Path(".benchmarks/history"))
    parser.add_argument("--json", type=Path, help="the run to compare (default: newest saved)")
    args = parser.parse_args(argv)
    try:
        runs = saved_runs(args.storage) if args.storage.is_dir() else []
        current = load(args.json) if args.json else (runs[-1] if runs else None)
    except (OSError, ValueError) as error:
        print(f"bench history: cannot read a run: {error}", file=sys.stderr)
        return 2
    if current is None:
        print(f"bench history: no saved run under {args.storage}", file=sys.stderr)
        return 2
    base = baseline(current, runs)
    if base is None:
        print(
            f"bench history: no earlier run on {current.kind} under {args.storage}: "
            f"{current.path.name} is the first baseline; nothing compared"
        )
        return 0
    changes = compare(current, base)
    print(report(current, base, changes))
    if not changes:
        print("bench history: the two runs share no ratio check; nothing compared")
        return 0
    regressions = [c for c in changes if c.regressed]
    if regressions:
        print(
            f"bench history: {len(regressions)} ratio(s) grew by more than {REGRESSION:.0%} "
            f"(REGRESSION in tests/benchmarks/shapes.py)",
            file=sys.stderr,
        )
        return 1
    print(f"bench history: no ratio grew by more than {REGRESSION:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
