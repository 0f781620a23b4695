"""rnn-verify: does an RNN implementation behave like torch.nn.RNN, and if not, where?

Exit status: 0 when every run held, 1 when one failed, 2 for a usage error (a bad option, an
import path that does not import, a class that cannot be built with nn.RNN's constructor, an
adapter that fails, or options that leave nothing to verify here), 3 when ``--max-time`` ran
out before every run was reached (and none failed). Usage errors are one line on stderr, never
a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

CONFORMING, NONCONFORMING, USAGE_ERROR, INCOMPLETE = 0, 1, 2, 3
REPRO_DIR = "rnn-verify-reproducers"
EXIT_STATUSES = (
    "exit status: 0 every run held; 1 a run failed; 2 usage error (including options that "
    "leave nothing to verify here); 3 --max-time ran out first (no failure)"
)
LEGEND = (
    "pass N: N examples held; (x eps): the largest error seen, in units of the dtype's eps\n"
    "(scaled by the value's magnitude above 1)\n"
    "(float64 against torch's module; lower precisions against it run in float64, where its\n"
    "own error is of the same order); -: the property does not apply (see --list)"
)


class UsageError(Exception):
    """A mistake of the user's: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    from rnn_impl.testing import environment, profiles
    from rnn_impl.testing.cases import LAYOUTS

    parser = _Parser(
        prog="rnn-verify",
        description="Verify an RNN implementation against torch.nn.RNN with property-based tests.",
        epilog=EXIT_STATUSES,
    )
    parser.add_argument(
        "--impl",
        default=None,
        help="module:attr of the class or factory under test (default rnn_impl:RNN)",
    )
    parser.add_argument(
        "--adapter", default=None, help="module:attr of an Adapter for other parameter names"
    )
    parser.add_argument(
        "--kind",
        choices=list(environment.KINDS),
        default=None,
        help="what the implementation imitates (default: detected from the torch class it "
        "subclasses or its rnn_verify_kind attribute, else rnn)",
    )
    parser.add_argument(
        "--profile",
        choices=profiles.PROFILES,
        default=None,
        help=f"Hypothesis profile (default ${profiles.PROFILE_ENV}, else ci when $CI is set, "
        "else dev)",
    )
    parser.add_argument("--device", action="append", help="only this device (repeatable)")
    parser.add_argument(
        "--dtype", action="append", help="only this dtype, e.g. float32 (repeatable)"
    )
    parser.add_argument(
        "--property", action="append", help="only this property (repeatable; see --list)"
    )
    parser.add_argument(
        "--layout",
        action="append",
        choices=LAYOUTS,
        help="only inputs of this layout (repeatable), for implementations that support fewer",
    )
    parser.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="hold a constructor argument fixed, e.g. bidirectional=false (repeatable), for "
        "implementations that support less; properties that draw their own are skipped",
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=None,
        help="examples per property, overriding the profile",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="Hypothesis seed (profiles that are not derandomized)",
    )
    parser.add_argument(
        "--max-time",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop starting new runs after this long; the runs not reached are reported",
    )
    parser.add_argument(
        "--expected-failures",
        type=Path,
        default=None,
        metavar="FILE",
        help="runs known to fail, one per line with '# reason' (rnn_impl.testing.expected)",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        metavar="FILE",
        help="a regression corpus: its recorded failures run first, in every profile "
        "(rnn_impl.testing.corpus)",
    )
    parser.add_argument(
        "--save-failures",
        type=Path,
        default=None,
        metavar="FILE",
        help="add the minimal example of every failed run to this corpus (created if missing; "
        "entries already there are not added again)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    parser.add_argument(
        "--junit-xml", type=Path, default=None, help="write the results as JUnit XML"
    )
    parser.add_argument(
        "--repro-dir",
        type=Path,
        default=Path(REPRO_DIR),
        help=f"where reproducers go (default ./{REPRO_DIR})",
    )
    parser.add_argument("--list", action="store_true", help="list the properties and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    return command_main("rnn-verify", build_parser(), _run, argv)


def command_main(
    prog: str,
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None,
) -> int:
    """``run`` on ``argv`` parsed: a usage error (or an interrupt) is one line on stderr and
    exit status 2, never a traceback (rnn-verify, rnn-verify-search)."""
    try:
        return run(parser.parse_args(argv))
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return USAGE_ERROR


def import_from_working_directory() -> None:
    """Let ``--impl my_module:MyRNN`` import from the working directory, after the installed
    packages (``python -m`` puts it first, where a stray torch.py would shadow torch)."""
    here = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", here)] + [here]


def _run(args: argparse.Namespace) -> int:
    import_from_working_directory()
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise UsageError("hypothesis is not installed: pip install 'rnn-impl[verify]'") from None
    import torch

    from rnn_impl.testing import devices, expected, oracle, profiles
    from rnn_impl.testing.cases import parse_fixed
    from rnn_impl.testing.plan import CHECKED_AS, KINDS, VERIFIES, kind_mismatch, plan
    from rnn_impl.testing.properties import CATALOGUE, select

    if args.list:
        for prop in CATALOGUE:
            print(f"{prop.name:30} {prop.kind:4} {prop.group:12} {prop.doc}")
        return CONFORMING
    if args.max_examples is not None and args.max_examples < 1:
        raise UsageError("--max-examples must be at least 1")
    if args.max_time is not None and args.max_time <= 0:
        raise UsageError("--max-time must be positive")

    try:
        subject = oracle.load_subject(
            args.impl, args.adapter, kind=args.kind or "rnn", imitates=args.kind
        )
    except oracle.SubjectError as error:
        raise UsageError(str(error)) from None
    try:
        props = select(args.property, kind=CHECKED_AS[subject.kind])
    except KeyError as error:
        raise UsageError(f"unknown property {error.args[0]} (see --list)") from None
    mismatched = [p for p in props if kind_mismatch(p, subject)]
    if mismatched:
        raise UsageError(
            f"{subject.name} imitates nn.{KINDS[subject.kind]}; these properties verify "
            f"{VERIFIES[mismatched[0].kind]}: "
            f"{', '.join(p.name for p in mismatched)}"
        )

    try:
        fixed = parse_fixed(args.fix)
    except ValueError as error:
        raise UsageError(str(error)) from None
    layouts = tuple(args.layout) if args.layout else None
    try:
        runs = plan(props, args.device or devices.available_devices(), args.dtype, layouts, fixed)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not any(run.skip is None for run in runs):
        reasons = sorted({run.skip for run in runs if run.skip})
        why = (
            "; ".join(reasons)
            if reasons
            else "no selected property applies to these devices and dtypes"
        )
        raise UsageError(f"nothing to verify: {why}")
    _smoke_test(subject, fixed)

    profiles.register_profiles()
    args.profile = args.profile or profiles.default_profile()
    if args.profile not in profiles.PROFILES:
        raise UsageError(
            f"${profiles.PROFILE_ENV}={args.profile!r} is not a profile "
            f"(choose from {', '.join(profiles.PROFILES)})"
        )
    run_settings = hypothesis.settings(
        hypothesis.settings.get_profile(args.profile), report_multiple_bugs=False
    )
    if args.max_examples is not None:
        run_settings = hypothesis.settings(run_settings, max_examples=args.max_examples)
    print(
        f"rnn-verify: {subject.name} against torch.nn.{KINDS[subject.kind]} (torch {torch.__version__}, "
        f"hypothesis {hypothesis.__version__}), profile {args.profile}"
    )
    listed = []
    if args.expected_failures is not None:
        try:
            listed = expected.read(args.expected_failures)
        except (OSError, ValueError) as error:
            raise UsageError(f"--expected-failures: {error}") from None
    recorded = _read_corpus(args.corpus) if args.corpus is not None else []
    if args.save_failures is not None and args.save_failures.exists():
        _read_corpus(args.save_failures)  # a file that is not a corpus: say so before running
    results, found = _verify_all(runs, subject, run_settings, args, layouts, fixed, recorded)
    if args.save_failures is not None:
        from rnn_impl.testing import corpus

        added = corpus.save(args.save_failures, found)
        print(
            f"rnn-verify: {added} new failure(s) saved to {args.save_failures} "
            f"({len(found) - added} already there)"
        )
    used = set()
    for run, result in zip(runs, results):
        entry = expected.matching(listed, run.id)
        if entry is not None:
            used.add(entry)
            _apply_expected(result, entry, args, strict=args.profile == "ci")
    for entry in listed:
        if entry not in used:
            print(
                f"rnn-verify: {args.expected_failures}:{entry.line}: {entry.pattern!r} matches "
                "no run of this selection (stale, or a typo?)"
            )
    return _report(results, subject, args)


def _read_corpus(path: Path) -> list:
    from rnn_impl.testing import corpus

    try:
        return corpus.read(path)
    except (OSError, ValueError) as error:
        raise UsageError(f"corpus: {error}") from None


def _apply_expected(result, entry, args, strict: bool) -> None:
    """A listed run: a failure is expected (xfail); a pass fails when ``strict`` (the ``ci``
    profile: the list only shrinks), else it is reported (xpass)."""
    where = f"{args.expected_failures}:{entry.line}"
    if result.status == "fail":
        result.status = "xfail"
        result.reason = f"expected to fail ({where}: {entry.reason}); {result.reason}"
    elif result.status == "pass":
        result.status = "fail" if strict else "xpass"
        result.reason = (
            f"listed as expected to fail ({where}: {entry.reason}) but passes: remove it"
        )


def _smoke_test(subject, fixed) -> None:
    """Build the subject once with a plain configuration (and the ``--fix`` arguments): a
    constructor or adapter that cannot work at all is a usage error, not a conformance
    failure."""
    from dataclasses import replace

    from rnn_impl.testing import oracle
    from rnn_impl.testing.cases import InputCase, RNNConfig

    try:
        held = subject.holding(fixed)
        hidden = max(4, held.get("proj_size", 0) + 1)  # the strategies make room the same way
        config = replace(RNNConfig(3, hidden), **held)
        oracle.build_pair(subject, config, InputCase())
    except (oracle.SubjectError, ValueError) as error:  # ValueError: torch's, for the --fix
        raise UsageError(f"{error}") from None


def _verify_all(runs, subject, run_settings, args, layouts, fixed, recorded):
    """Every run, in order: ``(results, found)``, ``found`` the corpus entries of the minimal
    failing examples."""
    from rnn_impl.testing import corpus, devices
    from rnn_impl.testing.localise import describe
    from rnn_impl.testing.report import Result, classify, write_reproducer
    from rnn_impl.testing.runner import verify

    results, found = [], []
    width = len(str(len(runs)))
    deadline = None if args.max_time is None else time.monotonic() + args.max_time
    for index, run in enumerate(runs, 1):
        prop, device, dtype = run.prop, run.device, run.dtype
        name = devices.dtype_name(dtype)
        result = Result(prop.name, prop.group, device, name, "skip")
        prefix = f"[{index:>{width}}/{len(runs)}] {prop.name} {device}/{name}"
        if run.skip is not None:
            result.reason = run.skip
            results.append(result)
            continue
        if deadline is not None and time.monotonic() > deadline:
            result.status, result.reason = "not reached", f"--max-time {args.max_time:g} s ran out"
            results.append(result)
            continue
        print(f"{prefix} ...", end="", flush=True)
        start = time.perf_counter()
        tally = verify(
            prop,
            subject,
            device,
            dtype,
            run_settings,
            seed=args.seed,
            collect=True,
            layouts=layouts,
            fixed=fixed,
            replay=corpus.replay(recorded, prop.name, device, name),
        )
        result.seconds = time.perf_counter() - start
        result.examples = tally.examples
        result.max_abs, result.eps_units = tally.worst.max_abs, tally.worst.eps_units
        if tally.failure is None:
            result.status = "pass"
            print(f" pass ({tally.examples} examples, {result.seconds:.1f}s)", flush=True)
        else:
            result.status = "fail"
            result.reason = f"{type(tally.failure).__name__}: {tally.failure}".strip()
            measure = getattr(tally.failure, "measure", None)
            if measure is not None:
                result.max_abs, result.eps_units = measure.max_abs, measure.eps_units
            if tally.last is not None:
                found.append(corpus.failure_of(prop.name, tally.last, subject.name, tally.headline))
                result.counterexample = str(tally.last)
                located = describe(prop, subject, tally.last)
                result.departs, result.suspects = located["departs"], located["suspects"]
                path = write_reproducer(
                    args.repro_dir, result, tally.last, subject.name, args.adapter, subject.kind
                )
                result.reproducer = str(path)
                if prop.exact and device == "cpu" and "not bit-identical" in result.reason:
                    result.cause = classify(path)
            print(f" FAIL ({tally.examples} examples, {result.seconds:.1f}s)", flush=True)
        results.append(result)
    return results, found


def _report(results, subject, args) -> int:
    import hypothesis
    import torch

    from rnn_impl.testing.report import (
        failure_block,
        largest_errors,
        table,
        write_json,
        write_junit,
    )

    failures = [r for r in results if r.status == "fail"]
    print()
    print(table(results))
    print(LEGEND)
    print()
    errors = largest_errors(results)
    if errors:
        print("largest errors among passing properties:")
        print(errors)
    for kind in ("skip", "not reached", "xfail", "xpass"):
        reasons = sorted({r.reason for r in results if r.status == kind})
        if reasons:
            count = sum(r.status == kind for r in results)
            print(f"{STATUS_WORDS[kind]} ({count}): " + "; ".join(reasons))
    for r in failures:
        print()
        print(failure_block(r))
    counts = {status: sum(r.status == status for r in results) for status in STATUSES}
    if counts["fail"]:
        verdict, status = "does not conform", NONCONFORMING
    elif counts["not reached"]:
        verdict, status = "conforms on what was reached (--max-time ran out)", INCOMPLETE
    elif counts["skip"] or counts["xfail"] or counts["xpass"]:
        verdict = "conforms on what ran here, except the expected failures and skips listed above"
        status = CONFORMING
    else:
        verdict, status = "conforms", CONFORMING
    meta = {
        "implementation": subject.name,
        "adapter": args.adapter,
        "profile": args.profile,
        "torch": torch.__version__,
        "hypothesis": hypothesis.__version__,
        "verdict": verdict,
        "exit_status": status,
        **{f"{name.replace(' ', '_')}": count for name, count in counts.items()},
    }
    if args.json:
        write_json(results, args.json, meta)
    if args.junit_xml:
        write_junit(results, args.junit_xml, f"rnn-verify {subject.name}")
    print()
    summary = ", ".join(
        f"{count} {STATUS_WORDS[name]}"
        for name, count in counts.items()
        if count or name in ("pass", "fail", "skip")
    )
    print(f"{subject.name} {verdict}: {summary}")
    return status


STATUSES = ("pass", "fail", "skip", "not reached", "xfail", "xpass")
STATUS_WORDS = {
    "pass": "passed",
    "fail": "failed",
    "skip": "skipped",
    "not reached": "not reached",
    "xfail": "failed as expected",
    "xpass": "passed though expected to fail",
}


if __name__ == "__main__":
    raise SystemExit(main())
