"""rnn-verify: does an implementation behave like torch's recurrent module, and if not, where?

Exit status: 0 when every run held, 1 when one failed, 2 for a usage error (a bad option, an
import path that does not import, a class that cannot be built with torch's constructor, an
adapter that fails, or options that leave nothing to verify here), 3 when ``--max-time`` ran
out before every run was reached (and none failed). Usage errors are one line on stderr, never
a traceback.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rnn_impl.testing.command import (
    Parser,
    UsageError,
    add_selection_options,
    check_writable,
    command_main,
    import_from_working_directory,
    require_hypothesis,
    selection,
    selection_of,
    selection_options,
)
from rnn_impl.testing.report import STATUS_WORDS, STATUSES, USAGE_ERROR

REPRO_DIR = "rnn-verify-reproducers"
EXIT_STATUSES = (
    "exit status: 0 every run held; 1 a run failed; 2 usage error (including options that "
    "leave nothing to verify here); 3 --max-time ran out first (no failure)"
)
LEGEND = (
    "pass N: N examples held; (x eps): the largest distance from torch's float64 result, in\n"
    "units of the dtype's eps (scaled by the value's magnitude above 1); tolerances come from\n"
    "each example's own sensitivity to rounding; identical to torch's N: N of those examples\n"
    "had torch's module's own bits (they hold without being judged); other counts (recompiles,\n"
    "graph breaks) are summed over the examples; -: the property does not apply (see --list)"
)
__all__ = ["USAGE_ERROR", "UsageError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from rnn_impl.testing import profiles

    parser = Parser(
        prog="rnn-verify",
        description="Verify an implementation of torch.nn.RNN, GRU, LSTM or one of their cells "
        "against torch's own, with property-based tests.",
        epilog=EXIT_STATUSES,
    )
    add_selection_options(parser)
    parser.add_argument(
        "--profile",
        choices=profiles.PROFILES,
        default=None,
        help=f"Hypothesis profile (default ${profiles.PROFILE_ENV}, else ci when $CI is set, "
        "else dev)",
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
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes the runs are shared among (default $RNN_VERIFY_WORKERS, else "
        "one per core); results and their order do not depend on it",
    )
    parser.add_argument(
        "--write-adapter",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the weights' mapping found from names and shapes as an editable Adapter "
        "(FILE, a .py file) and exit; verify with it through --adapter",
    )
    parser.add_argument("--list", action="store_true", help="list the properties and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    return command_main("rnn-verify", build_parser(), _run, argv)


@dataclass(frozen=True)
class Outputs:
    """Where a run's results go besides the terminal: JSON, JUnit XML, reproducers, and the
    corpus that failures are saved to."""

    json: Path | None
    junit_xml: Path | None
    repro_dir: Path
    save_failures: Path | None


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process needs to rebuild the session and check its runs: the selection
    options (:func:`~rnn_impl.testing.command.selection`), what probing left out, the profile, the seed, where
    reproducers go, and how many torch threads it may use."""

    options: dict[str, Any]
    more: dict[str, Any]
    unsupported: dict[str, str]
    profile: str
    max_examples: int | None
    seed: int | None
    outputs: Outputs
    threads: int


def _run(args: argparse.Namespace) -> int:
    import_from_working_directory()
    require_hypothesis()
    if args.list:
        _list()
        return 0
    if args.max_examples is not None and args.max_examples < 1:
        raise UsageError("--max-examples must be at least 1")
    if args.max_time is not None and args.max_time <= 0:
        raise UsageError("--max-time must be positive")
    workers = _workers(args.workers)
    check_writable("--json", args.json)
    check_writable("--junit-xml", args.junit_xml)
    check_writable("--save-failures", args.save_failures)
    check_writable("--repro-dir", args.repro_dir, directory=True)
    check_writable("--write-adapter", args.write_adapter)
    if args.write_adapter is not None and args.write_adapter.suffix != ".py":
        raise UsageError(f"--write-adapter {args.write_adapter}: name a .py file")
    options = selection_options(args)
    more = {"expected_failures": args.expected_failures, "corpus_file": args.corpus}
    session, _ = selection(options, **more)
    try:
        built, plan = _smoke_test(session)
    except Unmapped as unmapped:
        if args.write_adapter is None:
            raise
        return _write_skeleton(unmapped, args.write_adapter, args.kind)
    if args.write_adapter is not None:
        return _write_adapter(session, args.write_adapter, built, plan, args.kind)
    from rnn_impl.testing.session import SelectionError

    try:
        session = session.probed()
    except SelectionError as error:
        raise UsageError(str(error)) from None
    selection_of(session)  # what probing left may be nothing: a usage error
    built += [
        f"unsupported: {what} (every probe raised {error}); {_leaving_out(name)}"
        for what, (name, error) in zip(session.left_out(), session.unsupported.items())
    ]
    runs = session.runs()
    outputs = Outputs(args.json, args.junit_xml, args.repro_dir, args.save_failures)
    if outputs.save_failures is not None and outputs.save_failures.exists():
        _read_corpus(outputs.save_failures)  # a file that is not a corpus: say so before running
    profile, run_settings = _settings(args.profile, args.max_examples)
    workers = max(1, min(workers, sum(run.skip is None for run in runs)))
    setup = WorkerSetup(
        options,
        more,
        dict(session.unsupported),
        profile,
        args.max_examples,
        args.seed,
        outputs,
        _threads(workers),
    )
    return verify_session(
        session,
        runs,
        profile,
        run_settings,
        args.seed,
        args.max_time,
        outputs,
        built,
        setup,
        workers,
    )


def _workers(given: int | None) -> int:
    from rnn_impl.testing.parallel import default_workers

    if given is not None:
        if given < 1:
            raise UsageError("--workers must be at least 1")
        return given
    try:
        return default_workers()
    except ValueError as error:
        raise UsageError(f"{error} (or give --workers)") from None


def _threads(workers: int) -> int:
    from rnn_impl.testing.parallel import cores

    return max(1, cores() // workers)


_IN_WORKER: dict[str, Any] = {}


def _start_worker(setup: WorkerSetup) -> None:
    """A worker process's set-up (:class:`~rnn_impl.testing.parallel.Pool`): the session
    rebuilt from the same options, the same runs in the same order."""
    import torch

    torch.set_num_threads(setup.threads)
    session = selection(setup.options, **setup.more)[0].leaving_out(setup.unsupported)
    _, run_settings = _settings(setup.profile, setup.max_examples)
    _IN_WORKER.update(setup=setup, session=session, runs=session.runs(), settings=run_settings)


def _work(index: int) -> tuple[Any, Any]:
    """Run ``index`` of the session, in a worker process."""
    setup: WorkerSetup = _IN_WORKER["setup"]
    run = _IN_WORKER["runs"][index]
    return _check(_IN_WORKER["session"], run, _IN_WORKER["settings"], setup.seed, setup.outputs)


def _list() -> None:
    from rnn_impl.testing.kinds import described
    from rnn_impl.testing.properties import CATALOGUE

    print(f"{'property':30} {'verifies':18} {'category':12} {'tier':9} {'judged':9} what it checks")
    for prop in CATALOGUE:
        print(
            f"{prop.name:30} {described(prop.cells):18} {prop.category:12} {prop.tier:9} "
            f"{prop.comparison:9} {prop.doc}"
        )


def _settings(profile: str | None, max_examples: int | None) -> tuple[str, Any]:
    """The Hypothesis profile's name and settings (``--profile``, else the default)."""
    import hypothesis

    from rnn_impl.testing import profiles

    profiles.register_profiles()
    profile = profile or profiles.default_profile()
    if profile not in profiles.PROFILES:
        raise UsageError(
            f"${profiles.PROFILE_ENV}={profile!r} is not a profile "
            f"(choose from {', '.join(profiles.PROFILES)})"
        )
    run_settings = hypothesis.settings(
        hypothesis.settings.get_profile(profile), report_multiple_bugs=False
    )
    if max_examples is not None:
        run_settings = hypothesis.settings(run_settings, max_examples=max_examples)
    return profile, run_settings


def _read_corpus(path: Path) -> Any:
    from rnn_impl.testing.session import SelectionError, read_corpus

    try:
        return read_corpus(path)
    except SelectionError as error:
        raise UsageError(str(error)) from None


def _leaving_out(name: str) -> str:
    """How a report says that probing left ``name`` (a layout, dtype or state form) out."""
    from rnn_impl.testing.cases import LAYOUTS
    from rnn_impl.testing.probe import INITIAL_STATE

    if name == INITIAL_STATE:
        return "every example runs without h0 (streaming, which passes one on, is not applicable)"
    choose = f"--layout {name}" if name in LAYOUTS else f"--dtype {name}"
    return f"left out of the verdict (nothing to do; to judge it anyway: {choose})"


class Unmapped(UsageError):
    """No mapping of torch's parameters onto ``implementation``'s, built with ``config``,
    follows from names and shapes (``why``, the mapping's error)."""

    def __init__(self, message: str, implementation: Any, config: Any, why: str) -> None:
        super().__init__(message)
        self.implementation, self.config, self.why = implementation, config, why


def _smoke_test(session: Any) -> tuple[list[str], Any]:
    """Build each implementation once with a plain configuration (and the fixed arguments):
    a constructor or adapter that cannot work at all is a usage error, not a conformance
    failure. Returns how the first is built (its binding and its weights' mapping, as lines)
    and the mapping (:data:`~rnn_impl.testing.mapping.Plan`; None: by torch's names), found
    on two bidirectional layers where the class takes them."""
    from rnn_impl.testing import oracle
    from rnn_impl.testing.cases import InputCase
    from rnn_impl.testing.mapping import MappingError, describe

    lines: list[str] = []
    plan = None
    for implementation in session.implementations:
        try:
            held = implementation.fixed_arguments(session.fixed)
            config = implementation.plain_config(session.fixed)
            reference, impl = oracle.build_pair(implementation, config, InputCase())
        except (oracle.ImplementationError, ValueError) as error:  # ValueError: torch's
            message = " ".join(str(error).split())
            if isinstance(error.__cause__, MappingError):
                raise Unmapped(message, implementation, config, str(error.__cause__)) from None
            raise UsageError(message) from None
        if lines or implementation is not session.implementations[0]:
            continue
        short = implementation.name.rpartition(":")[2]
        lines = implementation.binding.describe(short)
        if _reads_batch_first(implementation, config, reference, impl):
            lines.append(
                f"  {short} reads (batch, time, features) input (probed): held at "
                "batch_first=False it will fail; hold it with --fix batch_first=true"
            )
        plan = oracle.plan_of(impl)
        if isinstance(implementation.adapter, oracle.Adapter) and not implementation.is_cell:
            deeper: dict[str, Any] = {"num_layers": 2, "bidirectional": True}
            wider = replace(config, **{k: v for k, v in deeper.items() if k not in held})
            try:
                reference, impl = oracle.build_pair(implementation, wider, InputCase())
            except oracle.ImplementationError as error:
                if isinstance(error.__cause__, MappingError):
                    why = str(error.__cause__)
                    message = f"{implementation.name}: {why}"
                    raise Unmapped(message, implementation, wider, why) from None
            plan = oracle.plan_of(impl)
        if plan is not None:
            by = f"by {implementation.adapter_name}" if implementation.adapter_name else None
            lines += [f"weights mapped {by or 'from names and shapes'}:", *describe(plan)]
    return lines, plan


def _reads_batch_first(implementation: Any, config: Any, reference: Any, impl: Any) -> bool:
    """Whether a class that takes no ``batch_first`` (held at False) computes, from one
    batch-first input, what torch's module computes with ``batch_first=True`` and not what
    it computes time-major: a hint before the runs, never a verdict (unlike the probes, it
    compares values). ``reference`` and ``impl``: the pair built with ``config``."""
    import torch

    if implementation.is_cell or implementation.binding.held.get("batch_first") is not False:
        return False
    x = torch.randn(2, 5, config.input_size, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            got = impl(x)
            got = got[0] if isinstance(got, tuple) else got
            time_major = reference(x)[0]
            reference.batch_first = True
            try:
                batch_major = reference(x)[0]
            finally:
                reference.batch_first = False
    except Exception:  # whatever fails here, the runs report
        return False

    def close(a: Any, b: Any) -> bool:
        return (
            isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, 1e-4, 1e-5)
        )

    return close(got, batch_major) and not close(got, time_major)


def _write_adapter(
    session: Any, path: Path, built: list[str], plan: Any, session_kind: str | None
) -> int:
    """The mapping the smoke test found, written to ``path`` as an editable Adapter."""
    from rnn_impl.testing import oracle
    from rnn_impl.testing.adapter_source import adapter_source

    implementation = session.implementations[0]
    if type(implementation.adapter) is not oracle.Adapter:
        raise UsageError(
            f"--write-adapter: {implementation.name} is loaded by its own adapter "
            f"{implementation.adapter_name} (leave out --adapter to write the mapping found)"
        )
    if plan is None:
        raise UsageError(
            f"--write-adapter: {implementation.name} has torch's parameter names: it needs no "
            "adapter"
        )
    command = _adapter_command(implementation, path, session_kind)
    path.write_text(adapter_source(command, plan))
    print("\n".join(built))
    print(f"rnn-verify: wrote {path}; check it, then verify with: {command}")
    return 0


def _adapter_command(implementation: Any, path: Path, session_kind: str | None) -> str:
    """The rnn-verify command that verifies ``implementation`` with the adapter at ``path``."""
    command = f"rnn-verify --impl {implementation.name} --adapter {path.stem}:Adapter"
    return command if session_kind is None else f"{command} --kind {session_kind}"


def _write_skeleton(unmapped: Unmapped, path: Path, session_kind: str | None) -> int:
    """Where no mapping follows from names and shapes, an Adapter to fill in, written to
    ``path``: each side's parameters listed with their shapes."""
    import torch

    from rnn_impl.testing.adapter_source import skeleton_source

    implementation, config = unmapped.implementation, unmapped.config
    reference = config.kind.torch_class()(**config.kwargs())
    impl = implementation.build(config, torch.device("cpu"), torch.float32)
    command = _adapter_command(implementation, path, session_kind)
    source = skeleton_source(
        command,
        unmapped.why,
        str(config),
        {name: tuple(p.shape) for name, p in reference.named_parameters()},
        {name: tuple(p.shape) for name, p in impl.named_parameters()},
        config.kind.gates,
    )
    path.write_text(source)
    print(f"rnn-verify: no mapping follows from names and shapes ({unmapped.why})")
    print(
        f"rnn-verify: wrote {path}, a skeleton: fill in load and named_parameters, then "
        f"verify with: {command}"
    )
    return 0


def verify_session(
    session: Any,
    runs: list[Any],
    profile: str,
    run_settings: Any,
    seed: int | None,
    max_time: float | None,
    outputs: Outputs,
    built: Sequence[str] = (),
    setup: WorkerSetup | None = None,
    workers: int = 1,
) -> int:
    """Every run, shared among ``workers`` processes (each rebuilt from ``setup``) and printed
    as it ends, after ``built`` (how the implementation is built); then the report, in the
    runs' order: the verdict's exit status."""
    import hypothesis
    import torch

    from rnn_impl.testing import devices
    from rnn_impl.testing.parallel import Pool

    implementation = session.implementations[0]
    print(
        f"rnn-verify: {implementation.name} against torch.{implementation.kind.reference} "
        f"(torch {torch.__version__}, hypothesis {hypothesis.__version__}), profile {profile}"
    )
    for line in built:
        print(line)
    live = [index for index, run in enumerate(runs) if run.skip is None]
    where = f" on {workers} workers" if workers > 1 else ""
    skipped = len(runs) - len(live)
    reasons = " (the reasons follow the table)" if skipped else ""
    print(f"{len(live)} runs{where}, {skipped} skipped{reasons}")
    width = len(str(len(live)))

    def started(count: int, index: int) -> str:
        run = runs[index]
        name = f"{run.prop.name} {run.device}/{devices.dtype_name(run.dtype)}"
        return f"[{count:>{width}}/{len(live)}] {name} ..."

    def here(index: int) -> tuple[Any, Any]:
        if pool.broken and not announced:
            announced.append(pool.broken)
            print(f"rnn-verify: the workers stopped ({pool.broken}); the other runs run here")
        print(started(done + 1, index), end="", flush=True)
        return _check(session, runs[index], run_settings, seed, outputs)

    deadline = None if max_time is None else time.monotonic() + max_time
    pool = Pool(workers if setup is not None else 1, here, _start_worker, setup, _work)
    checked: dict[int, tuple[Any, Any]] = {}
    done, announced = 0, list[str]()
    for index, (result, failure) in pool.results(
        live, lambda: deadline is None or time.monotonic() <= deadline
    ):
        done += 1
        if pool.workers > 1 and not pool.broken:
            print(started(done, index), end="")
        word = "pass" if result.status == "pass" else "FAIL"
        print(f" {word} ({result.examples} examples, {result.seconds:.1f}s)", flush=True)
        if result.status == "fail":
            print(f"    {result.reason.splitlines()[0]}", flush=True)
        checked[index] = result, failure
    results, found = [], []
    for index, run in enumerate(runs):
        result, failure = checked.get(index) or (_not_run(run, max_time), None)
        if failure is not None:
            found.append(failure)
        if run.listed is not None:
            result.status, why = _judged(run, result, session.expected_file, profile)
            result.reason = why if result.status != "xfail" else f"{why}; {result.reason}"
        results.append(result)
    if outputs.save_failures is not None:
        from rnn_impl.testing import corpus

        added = corpus.save(outputs.save_failures, found)
        print(
            f"rnn-verify: {added} new failure(s) saved to {outputs.save_failures} "
            f"({len(found) - added} already there)"
        )
    return _report(results, session, profile, outputs)


def _judged(run: Any, result: Any, path: str, profile: str) -> tuple[str, str]:
    from rnn_impl.testing import expected

    if result.status not in ("pass", "fail"):
        return result.status, result.reason
    return expected.judge(run.listed, path, result.status == "fail", profile)


def _not_run(run: Any, max_time: float | None) -> Any:
    """The result of a run that did not run: skipped (its reason), or not reached."""
    from rnn_impl.testing import devices
    from rnn_impl.testing.report import Result

    prop = run.prop
    result = Result(prop.name, prop.category, run.device, devices.dtype_name(run.dtype), "skip")
    result.reason = run.skip or ""
    if run.skip is None:
        result.status, result.reason = "not reached", f"--max-time {max_time:g} s ran out"
    return result


def _check(
    session: Any, run: Any, run_settings: Any, seed: int | None, outputs: Outputs
) -> tuple[Any, Any]:
    """One run that runs here: its :class:`~rnn_impl.testing.report.Result`, and the corpus
    entry of its minimal failing example (None if it did not fail)."""
    from rnn_impl.testing import corpus
    from rnn_impl.testing.exceptions import VALUES
    from rnn_impl.testing.report import classify, result_of, write_reproducer

    start = time.perf_counter()
    verification = session.verify(run, run_settings, seed=seed)
    result = result_of(run, verification, time.perf_counter() - start)
    example = verification.last
    if result.status == "pass" or example is None:
        return result, None
    implementation = run.implementation
    entry = corpus.failure_of(run.prop.name, example, implementation.name, verification.headline)
    path = write_reproducer(outputs.repro_dir, result, example, implementation)
    result.reproducer = str(path)
    if run.prop.exact and run.device == "cpu" and result.differs == VALUES:
        result.cause = classify(path)
    return result, entry


def _report(results: list[Any], session: Any, profile: str, outputs: Outputs) -> int:
    import hypothesis
    import torch

    from rnn_impl.testing.report import (
        failure_block,
        ill_conditioned,
        largest_errors,
        summary,
        table,
        tier_verdicts,
        verdict,
        write_json,
        write_junit,
    )

    implementation = session.implementations[0]
    print()
    print(table(results))
    print(LEGEND)
    print()
    errors = largest_errors(results)
    if errors:
        print("largest errors among passing properties:")
        print(errors)
    unjudged = ill_conditioned(results)
    if unjudged:
        print(unjudged)
    for listed in ("skip", "not reached", "xfail", "xpass"):
        reasons = sorted({r.reason for r in results if r.status == listed})
        if reasons:
            count = sum(r.status == listed for r in results)
            runs = f"{count} runs" if count > 1 else "1 run"
            why = f"{len(reasons)} reasons" if len(reasons) > 1 else "1 reason"
            print(f"{STATUS_WORDS[listed]} ({runs}, {why}): " + "; ".join(reasons))
    for r in results:
        if r.status == "fail":
            print()
            print(failure_block(r))
    counts = {name: sum(r.status == name for r in results) for name in STATUSES}
    words, status = verdict(counts)
    meta: dict[str, object] = {
        "implementation": implementation.name,
        "adapter": implementation.adapter_name,
        "kind": implementation.kind.name,
        "profile": profile,
        "torch": torch.__version__,
        "hypothesis": hypothesis.__version__,
        "verdict": words,
        "exit_status": status,
        **{name.replace(" ", "_"): count for name, count in counts.items()},
    }
    if outputs.json:
        write_json(results, outputs.json, meta)
    if outputs.junit_xml:
        write_junit(results, outputs.junit_xml, f"rnn-verify {implementation.name}")
    print()
    reference = implementation.kind.reference
    print("\n".join(tier_verdicts(results, session.tiers, reference, session.properties)))
    left_out = ", ".join(session.left_out())
    unsupported = f" (unsupported, left out: {left_out})" if left_out else ""
    print(f"{implementation.name} {words}: {summary(counts)}{unsupported}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
