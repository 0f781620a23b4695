"""``python -m rnn_impl.testing.zoo [--out PATH] [--profile NAME]``: write the kill matrix.

``python -m rnn_impl.testing.zoo --power --seeds N [--profile NAME ...] [--out PATH]``: write
the detection-power table instead (:mod:`rnn_impl.testing.zoo.power`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hypothesis import settings

from rnn_impl.testing import profiles
from rnn_impl.testing.zoo import CONTROLS, ZOO
from rnn_impl.testing.zoo.matrix import kill_matrix, to_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_impl.testing.zoo", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="markdown file (default: stdout)")
    parser.add_argument(
        "--profile", choices=profiles.PROFILES, action="append", help="default: ci (repeatable)"
    )
    parser.add_argument("--power", action="store_true", help="the detection-power table")
    parser.add_argument("--seeds", type=int, default=50, help="seeded runs per bug (--power)")
    args = parser.parse_args(argv)
    chosen = args.profile or ["ci"]
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if not args.power and len(chosen) > 1:
        parser.error("the kill matrix takes one --profile (--power takes several)")
    profiles.register_profiles()
    if args.power:
        return _power(chosen, args.seeds, args.out, argv)
    bugs = ZOO + CONTROLS
    matrix = kill_matrix(bugs, settings.get_profile(chosen[0]))
    _write(to_markdown(matrix, bugs, chosen[0]), args.out)
    survivors = [b.label for b in ZOO if not any(v.killed for v in matrix[b.label].values())]
    false_alarms = [b.label for b in CONTROLS if any(v.killed for v in matrix[b.label].values())]
    for label in survivors:
        print(f"not killed: {label}", file=sys.stderr)
    for label in false_alarms:
        print(f"control killed: {label}", file=sys.stderr)
    return 1 if survivors or false_alarms else 0


def _power(chosen: list[str], seeds: int, out: Path | None, argv: list[str] | None) -> int:
    from rnn_impl.testing.zoo.power import measure
    from rnn_impl.testing.zoo.power import to_markdown as power_markdown

    rows = []
    for profile in chosen:
        for bug in ZOO:
            row = measure(bug, profile, seeds)
            print(f"{profile} {bug.label}: {row.kills}/{row.runs}", file=sys.stderr, flush=True)
            rows.append(row)
    words = sys.argv[1:] if argv is None else argv
    _write(power_markdown(rows, " ".join(["python -m rnn_impl.testing.zoo", *words])), out)
    return 1 if any(r.kills < r.runs or not r.as_ci for r in rows) else 0


def _write(text: str, out: Path | None) -> None:
    """``text`` to ``out``, or to stdout."""
    if out:
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    raise SystemExit(main())
