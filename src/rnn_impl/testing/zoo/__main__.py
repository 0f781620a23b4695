"""``python -m rnn_impl.testing.zoo [--out PATH] [--profile NAME]``: write the kill matrix.

``python -m rnn_impl.testing.zoo --power --seeds N [--profile NAME ...] [--out PATH]``: write
the detection-power table instead; ``--false-alarms`` the false-alarm table of the correct
implementations (:mod:`rnn_impl.testing.zoo.power`); ``--campaigns --seeds N --time SECONDS``
the time to first failure of the subtle bugs and the gate's escapes, for the ``ci`` gate,
``thorough`` and search campaigns of 1 and 2 workers (:mod:`rnn_impl.testing.zoo.campaigns`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import settings

from rnn_impl.testing import profiles
from rnn_impl.testing.properties import BY_NAME
from rnn_impl.testing.zoo import CONTROLS, CORRECT, ESCAPES, FOREIGN, SUBTLE, ZOO, Bug
from rnn_impl.testing.zoo.matrix import kill_matrix, kills, to_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_impl.testing.zoo", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="markdown file (default: stdout)")
    parser.add_argument(
        "--profile", choices=profiles.PROFILES, action="append", help="default: ci (repeatable)"
    )
    table = parser.add_mutually_exclusive_group()
    table.add_argument("--power", action="store_true", help="the detection-power table")
    table.add_argument(
        "--false-alarms",
        action="store_true",
        help="the false-alarm table of correct implementations",
    )
    table.add_argument(
        "--drift",
        action="store_true",
        help="the smallest drift each tolerance property kills in every run",
    )
    table.add_argument(
        "--campaigns",
        action="store_true",
        help="time to first failure: ci, thorough, and 1- and 2-worker search campaigns",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=50,
        help="seeded runs per row (--power, --false-alarms), per way of searching (--campaigns)",
    )
    parser.add_argument(
        "--time",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="each search campaign's time limit (--campaigns; default 60)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (--power, --false-alarms; default 1)",
    )
    parser.add_argument(
        "--bug",
        action="append",
        dest="bugs",
        help="only this planted bug, by its label (--power; repeatable; default: the zoo)",
    )
    parser.add_argument(
        "--dtype",
        action="append",
        dest="dtypes",
        help="only this dtype, e.g. float32 (--false-alarms; repeatable; default: all)",
    )
    parser.add_argument(
        "--property",
        action="append",
        dest="properties",
        help="only this property (--false-alarms; repeatable; default: every one with a tolerance)",
    )
    parser.add_argument(
        "--implementation",
        action="append",
        help="only this correct implementation, by its label (--false-alarms; repeatable)",
    )
    parser.add_argument(
        "--in-turn",
        action="store_true",
        help="--seeds runs per property, on the implementations and dtypes in turn "
        "(--false-alarms; for a long profile such as thorough)",
    )
    parser.add_argument(
        "--log",
        type=Path,
        default=None,
        help="JSON-lines file that keeps each finished run and resumes from it (--false-alarms)",
    )
    args = parser.parse_args(argv)
    chosen = args.profile or ["ci"]
    if args.seeds < 1 or args.workers < 1 or args.time <= 0:
        parser.error("--seeds, --workers and --time must be positive")
    if args.campaigns and (args.profile or args.properties or args.dtypes or args.log):
        parser.error(
            "--campaigns takes no --profile, --property, --dtype or --log: it runs the ci and "
            "thorough profiles and 1- and 2-worker campaigns on each bug's own property"
        )
    if not (args.power or args.false_alarms) and len(chosen) > 1:
        parser.error(
            "the kill matrix takes one --profile (--power and --false-alarms take several)"
        )
    profiles.register_profiles()
    command = " ".join(
        ["python -m rnn_impl.testing.zoo", *(sys.argv[1:] if argv is None else argv)]
    )
    if args.power:
        unknown = sorted(set(args.bugs or ()) - {b.label for b in ZOO})
        if unknown:
            parser.error(f"--bug {unknown[0]}: no such bug in the zoo (see docs/kill-matrix.md)")
        picked_bugs = tuple(b for b in ZOO if not args.bugs or b.label in args.bugs)
        return _power(chosen, args.seeds, args.workers, args.out, command, picked_bugs)
    if args.drift:
        return _drift(chosen[0], args.seeds, args.out)
    if args.campaigns:
        return _campaigns(args.seeds, args.time, args.out, command)
    if args.false_alarms:
        picked = tuple(
            c for c in CORRECT if not args.implementation or c.label in args.implementation
        )
        return _false_alarms(
            picked,
            chosen,
            args.seeds,
            args.workers,
            args.properties,
            args.dtypes,
            args.log,
            args.out,
            command,
            args.in_turn,
        )
    bugs = ZOO + CONTROLS + FOREIGN
    matrix = kill_matrix(bugs, settings.get_profile(chosen[0]))
    _write(to_markdown(matrix, bugs, chosen[0]), args.out)
    survivors = [b.label for b in ZOO if not kills(matrix[b.label])]
    false_alarms = [b.label for b in CONTROLS if set(kills(matrix[b.label])) - set(b.xfail)]
    false_alarms += [
        b.label
        for b in FOREIGN
        if any(BY_NAME[p].tier != "drop-in" for p in kills(matrix[b.label]))
    ]
    for label in survivors:
        print(f"not killed: {label}", file=sys.stderr)
    for label in false_alarms:
        print(f"control killed: {label}", file=sys.stderr)
    return 1 if survivors or false_alarms else 0


def _power(
    chosen: list[str],
    seeds: int,
    workers: int,
    out: Path | None,
    command: str,
    bugs: tuple[Bug, ...],
) -> int:
    from rnn_impl.testing.zoo.power import power
    from rnn_impl.testing.zoo.power import to_markdown as power_markdown

    rows = []
    for row in power(bugs, chosen, seeds, workers):
        print(f"{row.profile} {row.bug}: {row.kills}/{row.runs}", file=sys.stderr, flush=True)
        rows.append(row)
    labels = [b.label for b in bugs]
    rows.sort(key=lambda r: (chosen.index(r.profile), labels.index(r.bug)))
    _write(power_markdown(rows, command), out)
    return 1 if any(r.kills < r.runs or not r.as_ci for r in rows) else 0


def _drift(profile: str, seeds: int, out: Path | None) -> int:
    """The drift table, appended to ``out`` (the power table it belongs under)."""
    from rnn_impl.testing.zoo.drift import PROPERTIES, measure
    from rnn_impl.testing.zoo.drift import to_markdown as drift_markdown

    rows = []
    for name in PROPERTIES:
        rows.append(measure(name, profile, seeds))
        print(f"{name}: {rows[-1].killed:g} ulp", file=sys.stderr, flush=True)
    text = drift_markdown(rows, profile, seeds)
    if out:
        with out.open("a") as file:
            file.write(text)
        print(f"appended to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _false_alarms(
    controls: tuple[Bug, ...],
    chosen: list[str],
    seeds: int,
    workers: int,
    properties: list[str] | None,
    dtypes: list[str] | None,
    log: Path | None,
    out: Path | None,
    command: str,
    in_turn: bool,
) -> int:
    from rnn_impl.testing.machine import cpu_kind
    from rnn_impl.testing.tolerances import ILL_CONDITIONED_CAP
    from rnn_impl.testing.zoo.power import alarms_markdown, false_alarms

    rows = []
    for profile in chosen:
        rows += false_alarms(controls, profile, seeds, workers, properties, dtypes, log, in_turn)
    if not rows:
        print("error: --property / --dtype select no run of a tolerance property", file=sys.stderr)
        return 2
    _write(alarms_markdown(rows, command, cpu_kind(), in_turn), out)
    crowded = [r for r in rows if r.ill_share > ILL_CONDITIONED_CAP]
    for r in crowded:
        print(
            f"too ill-conditioned: {r.implementation}, {r.prop}, {r.dtype}: "
            f"{100 * r.ill_share:.0f}% of its examples (the cap is "
            f"{100 * ILL_CONDITIONED_CAP:.0f}%)",
            file=sys.stderr,
        )
    return 1 if crowded or any(r.rejections for r in rows) else 0


def _campaigns(seeds: int, limit: float, out: Path | None, command: str) -> int:
    from rnn_impl.testing.machine import cpu_kind
    from rnn_impl.testing.zoo.campaigns import WAYS, race, to_markdown

    machine, start, races = cpu_kind(), time.monotonic(), []
    for bug in SUBTLE + ESCAPES:
        for way in WAYS:
            races.append(race(bug, way, seeds, limit))
            print(f"{bug.label}, {way}: {races[-1].cell()}", file=sys.stderr, flush=True)
    minutes = (time.monotonic() - start) / 60
    _write(to_markdown(races, command, machine, minutes), out)
    subtle = {b.label for b in SUBTLE}
    missed = [r.bug for r in races if r.way == "ci" and not r.finds and r.bug in subtle]
    for label in missed:
        print(f"the ci gate missed a subtle zoo bug: {label}", file=sys.stderr)
    return 1 if missed else 0


def _write(text: str, out: Path | None) -> None:
    """``text`` to ``out``, or to stdout."""
    if out:
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    raise SystemExit(main())
