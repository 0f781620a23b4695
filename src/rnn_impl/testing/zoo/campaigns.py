"""Time to first failure: the ``ci`` gate, ``thorough``, and search campaigns of 1 and 2 workers.

For each subtle zoo bug (:data:`~rnn_impl.testing.zoo.SUBTLE`) and each bug the gate misses
(:data:`~rnn_impl.testing.zoo.ESCAPES`), the property designed for it at its home device and
dtype is searched four ways, each timed from its start to its first failure:

* ``ci``, as CI runs it: derandomized, corpus-free, covering set first, one process;
* ``thorough``, ``runs`` seeded runs (covering set first, then 1000 random examples);
* ``rnn-verify-search`` with 1 and with 2 worker processes, ``runs`` campaigns each, each on
  a fresh example database, stopped at ``limit`` seconds: the command as a user runs it, timed
  from its launch to its first ``FAILED`` line, so process start-up and the shrinking of the
  failure to its minimal example are inside the time (the gate's runs stop at the first
  failing example).

No shrinking in the gate's runs (one failing example is a find). Each way reports finds out of
its runs and the median seconds of those that found it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import hypothesis
import torch
from hypothesis import settings

from rnn_impl.testing import devices
from rnn_impl.testing.properties import BY_NAME
from rnn_impl.testing.runner import Verification
from rnn_impl.testing.search import FAILED_MARK, NOTHING
from rnn_impl.testing.zoo import Bug
from rnn_impl.testing.zoo.matrix import timed_run, without_shrinking

CAMPAIGNS = {"campaign, 1 worker": 1, "campaign, 2 workers": 2}
WAYS = ("ci", "thorough", *CAMPAIGNS)


@dataclass(frozen=True)
class Race:
    """One bug searched one way: the seconds to the first failure of each run that found it
    (``None`` for a run that did not, within its budget), and that budget."""

    bug: str
    prop: str
    way: str
    seconds: tuple[float | None, ...]
    budget: str

    @property
    def finds(self) -> int:
        return sum(s is not None for s in self.seconds)

    def cell(self) -> str:
        found = [s for s in self.seconds if s is not None]
        if not found:
            return f"not found ({self.budget}; 0 / {len(self.seconds)})"
        median = f"{statistics.median(found):.1f} s"
        return (
            median if len(self.seconds) == 1 else f"{median} ({self.finds} / {len(self.seconds)})"
        )


def race(bug: Bug, way: str, runs: int, limit: float) -> Race:
    """``bug`` searched ``way`` (one of :data:`WAYS`): ``runs`` runs (one for ``ci``)."""
    prop = BY_NAME[bug.caught_by]
    if way == "ci":
        as_ci = without_shrinking(settings.get_profile("ci"))
        seconds: list[float | None] = [_found(*timed_run(bug, as_ci))]
        budget = f"{as_ci.max_examples} random examples"
    elif way == "thorough":
        seeded = settings(without_shrinking(settings.get_profile("thorough")), derandomize=False)
        seconds = [_found(*timed_run(bug, seeded, seed)) for seed in range(runs)]
        budget = f"{seeded.max_examples} random examples"
    elif way in CAMPAIGNS:
        seconds = [_campaign(bug, CAMPAIGNS[way], limit) for _ in range(runs)]
        budget = f"{limit:g} s"
    else:
        raise ValueError(f"unknown way of searching {way!r}: one of {WAYS}")
    return Race(bug.label, prop.name, way, tuple(seconds), budget)


def _found(verification: Verification, seconds: float) -> float | None:
    return seconds if verification.failure is not None else None


def _campaign(bug: Bug, workers: int, limit: float) -> float | None:
    """Seconds from launching ``rnn-verify-search`` on a fresh database to its first failure
    line, or ``None`` when it ends without one.

    Raises:
        RuntimeError: the search ended with neither a failure nor its "nothing found" exit.
    """
    run = bug.session(BY_NAME[bug.caught_by]).home_runs()[0]
    prop, device, dtype = run.prop, run.device, run.dtype
    with tempfile.TemporaryDirectory() as database:
        command = [
            *(sys.executable, "-m", "rnn_impl.testing.search", "--impl", bug.spec),
            *("--property", prop.name, "--device", device, "--dtype", devices.dtype_name(dtype)),
            *("--workers", str(workers), "--time", str(limit), "--database", database),
        ]
        start = time.perf_counter()
        search = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            assert search.stdout is not None
            for line in search.stdout:
                if FAILED_MARK in line:
                    return time.perf_counter() - start
            if search.wait() != NOTHING:
                raise RuntimeError(f"{' '.join(command)} exited {search.returncode}")
            return None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(search.pid, signal.SIGKILL)
            search.wait()


def to_markdown(races: list[Race], command: str, machine: str, minutes: float) -> str:
    """The comparison, one row per bug, one column per way of searching; ``machine`` names
    where it ran and ``minutes`` how long the whole comparison took."""
    lines = [
        "# Time to first failure",
        "",
        f"Generated by `{command}`. For each subtle zoo bug and each bug the `ci` gate misses",
        "by design, the property designed for it at its home device and dtype, searched four",
        "ways; each cell is the median seconds to the first failure over the runs that found",
        "it (finds / runs). `ci` runs as CI runs it (derandomized: one run); `thorough` runs",
        "seeded, covering set first; the campaigns are `rnn-verify-search` with 1 and 2",
        "workers, each on a fresh example database, timed from launch to their first failure",
        "line, so start-up and shrinking to the minimal example are inside their time.",
        "",
        f"Measured on {machine}, torch {torch.__version__}, Hypothesis {hypothesis.__version__}:",
        f"{minutes:.0f} minutes in all.",
        "",
        "| bug | property | " + " | ".join(WAYS) + " |",
        "|---|---|" + "---|" * len(WAYS),
    ]
    for bug in dict.fromkeys(r.bug for r in races):
        row = {r.way: r for r in races if r.bug == bug}
        first = next(iter(row.values()))
        cells = [row[way].cell() if way in row else "" for way in WAYS]
        lines.append(f"| {bug} | {first.prop} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
