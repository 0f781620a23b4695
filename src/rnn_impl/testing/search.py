"""rnn-verify-search: a search campaign on many workers that share what each finds.

    rnn-verify-search --impl mypkg.rnn:MyRNN --workers 4 --time 600
                      [--database redis://host:6379/0] [--corpus-out tests/rnn-corpus.json]
                      [--property P ...] [--device D ...] [--dtype T ...] [--layout L ...]
                      [--fix NAME=VALUE ...] [--adapter module:attr] [--examples N]

Hypothesis is the search and its example database the exchange; nothing here is a second
engine. Each worker process runs every selected property (property x device x dtype, as
``rnn-verify`` plans them) again and again until the time is up, ``--examples`` random
examples a round, not derandomized (each process seeds Hypothesis from its own entropy), with
``target()`` on the normalised error, about half its draws far (feature sizes up to 64 and
sequences up to 256 steps, the covering sets' far levels, and batches up to 32, within the size
budget: ``strategies.FAR``) and half as near as the gate's (``strategies.NEAR``), and with the example
database given by ``--database``:
a directory (the default, ``.hypothesis/rnn-search``) or a Redis server (``redis://``,
``rediss://`` or ``unix://`` URLs, through Hypothesis' ``RedisExampleDatabase``), which any
number of machines can point at. A failure one worker finds is saved there under its run's key
and replayed first by every worker's next round of that run, on any machine. The covering set
is not run (the ``ci`` gate runs it); a run that failed in a worker is not searched again by it.

Progress is printed as it comes; at the end, the failures found, each with its minimal example,
and with ``--corpus-out`` the corpus file they were added to (:mod:`rnn_impl.testing.corpus`),
which ``rnn-verify --corpus`` and the pytest plugin replay. Exit status: 0 nothing found, 1
failures found, 2 usage error (including a database URL that does not answer: one line, the
URL's password masked).
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rnn_impl.testing.command import (
    Parser,
    UsageError,
    add_selection_options,
    check_writable,
    command_main,
    import_from_working_directory,
    selection,
    selection_options,
)

REDIS_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_DATABASE = ".hypothesis/rnn-search"
FOUND, NOTHING = 1, 0
FAILED_MARK = " FAILED: "
"""What a progress line holds when a worker found a failure (``worker N: RUN FAILED: ...``)."""


def masked(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print or log)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def open_database(location: str) -> Any:
    """The example database at ``location``: Redis for a ``redis://``, ``rediss://`` or
    ``unix://`` URL (asked to answer within a few seconds), else a directory.

    Raises:
        UsageError: the redis package is missing, or the server does not answer.
    """
    from hypothesis.database import DirectoryBasedExampleDatabase

    if urlsplit(location).scheme not in REDIS_SCHEMES:
        return DirectoryBasedExampleDatabase(location)
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError:
        raise UsageError(
            "a Redis database needs the redis package: pip install 'rnn-impl[search]'"
        ) from None
    client = redis.Redis.from_url(location, socket_connect_timeout=5, socket_timeout=30)
    try:
        client.ping()
    except redis.RedisError as error:
        raise UsageError(
            f"the example database at {masked(location)} does not answer ({type(error).__name__})"
        ) from None
    return RedisExampleDatabase(client)


@dataclass(frozen=True)
class Job:
    """What one worker runs: the selection options (rebuilt into its own session), the
    database, when to stop."""

    worker: int
    options: dict[str, Any]
    database: str
    examples: int
    stop_at: float


@dataclass
class Found:
    """A failure one worker found: the run, its first line, the minimal example (a corpus
    entry), and after how many of that round's examples."""

    worker: int
    run_id: str
    headline: str
    failure: Any = field(repr=False)
    examples: int = 0


def database_key(run_id: str, implementation: Any) -> bytes:
    """The key a run's examples are saved under: the same on every worker and machine for the
    same run of the same implementation (by name, kind and adapter), and distinct between runs
    (Hypothesis would otherwise key them all by the one function that checks an example)."""
    name = f"{implementation.name}:{implementation.kind.name}:{implementation.adapter_name}"
    return f"rnn-verify-search:{name}:{run_id}".encode()


def _worker(job: Job, progress: Any) -> tuple[list[Found], int]:
    """One worker's campaign: ``(failures found, examples run)``."""
    import hypothesis
    import torch

    from rnn_impl.testing import corpus, profiles
    from rnn_impl.testing.session import Session
    from rnn_impl.testing.strategies import FAR, NEAR

    torch.set_num_threads(1)
    session = Session.from_options(**job.options)
    runs = [run for run in session.runs() if run.skip is None]
    profiles.register_profiles()
    run_settings = hypothesis.settings(
        hypothesis.settings.get_profile("thorough"),
        database=open_database(job.database),
        derandomize=False,
        max_examples=job.examples,
        report_multiple_bugs=False,
    )
    found: list[Found] = []
    failed: set[str] = set()
    total = 0
    implementation = session.implementations[0]
    while time.time() < job.stop_at and len(failed) < len(runs):
        for run in runs:
            if run.id in failed or time.time() >= job.stop_at:
                continue
            verification = session.verify(
                run,
                run_settings,
                database_key=database_key(run.id, implementation),
                covering=False,
                limits=(NEAR, FAR),
            )
            total += verification.examples
            if verification.failure is None or verification.last is None:
                continue
            failed.add(run.id)
            entry = corpus.failure_of(
                run.prop.name,
                verification.last,
                implementation.name,
                verification.headline,
                **{"found by": f"rnn-verify-search, worker {job.worker}"},
            )
            found.append(
                Found(job.worker, run.id, verification.headline, entry, verification.examples)
            )
            progress.put(f"worker {job.worker}: {run.id}{FAILED_MARK}{verification.headline}")
        progress.put(f"worker {job.worker}: {total} examples so far, {len(failed)} run(s) failed")
    return found, total


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rnn-verify-search",
        description="Search for failures on many workers sharing a Hypothesis example database.",
        epilog="exit status: 0 nothing found; 1 failures found; 2 usage error",
    )
    add_selection_options(parser)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--time", type=float, default=60.0, metavar="SECONDS", help="how long (default 60)"
    )
    parser.add_argument(
        "--database",
        default=DEFAULT_DATABASE,
        help=f"a directory, or a redis:// / rediss:// / unix:// URL (default {DEFAULT_DATABASE})",
    )
    parser.add_argument(
        "--corpus-out", type=Path, default=None, metavar="FILE", help="add the failures here"
    )
    parser.add_argument(
        "--examples", type=int, default=200, help="random examples per run and round (200)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return command_main("rnn-verify-search", build_parser(), _run, argv)


def _run(args: argparse.Namespace) -> int:
    import_from_working_directory()  # the workers, spawned, inherit this sys.path
    from rnn_impl.testing import corpus

    if args.workers < 1 or args.time <= 0 or args.examples < 1:
        raise UsageError("--workers, --time and --examples must be positive")
    check_writable("--corpus-out", args.corpus_out)
    open_database(args.database)  # a URL that does not answer is a usage error, before anything
    options = selection_options(args)
    session, live = selection(options)
    stop_at = time.time() + args.time
    implementation = session.implementations[0]
    print(
        f"rnn-verify-search: {implementation.name}, {len(live)} run(s), {args.workers} "
        f"worker(s), {args.time:g} s, database {masked(args.database)}",
        flush=True,
    )
    jobs = [
        Job(worker, options, args.database, args.examples, stop_at)
        for worker in range(1, args.workers + 1)
    ]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        progress = manager.Queue()
        with ProcessPoolExecutor(args.workers, context) as pool:
            futures = [pool.submit(_worker, job, progress) for job in jobs]
            while not all(f.done() for f in futures):
                _drain(progress, timeout=0.5)
            results = [f.result() for f in futures]
        _drain(progress, timeout=0)
    found = [f for worker_found, _ in results for f in worker_found]
    examples = sum(total for _, total in results)
    print(f"rnn-verify-search: {examples} examples in all", flush=True)
    if not found:
        print(f"rnn-verify-search: {implementation.name}: no failure found", flush=True)
        return NOTHING
    for f in sorted(found, key=lambda f: (f.run_id, f.worker)):
        print(
            f"FAIL {f.run_id} (worker {f.worker}, after {f.examples} example(s) of its round): "
            f"{f.headline}\n     minimal example: {f.failure.example()}"
        )
    if args.corpus_out is not None:
        added = corpus.save(args.corpus_out, [f.failure for f in found])
        print(
            f"rnn-verify-search: {added} new failure(s) added to {args.corpus_out}; "
            f"replay them with rnn-verify --corpus {args.corpus_out}"
        )
    return FOUND


def _drain(progress: Any, timeout: float) -> None:
    import queue

    try:
        while True:
            print(f"  {progress.get(timeout=timeout)}", flush=True)
            timeout = 0
    except queue.Empty:
        return


if __name__ == "__main__":
    raise SystemExit(main())
