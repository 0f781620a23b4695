"""Detection power and false alarms, over independent seeds.

Detection power: how often a profile's run catches each planted bug.

A kill in one run shows that a bug *can* be caught; power is how often it *is*. For each bug,
the property designed for it runs at its home device and dtype under ``N`` seeds (the profile
with ``derandomize`` off, no database, no shrinking), and once as CI runs it (the profile as
it is: derandomized for ``ci``). Misses out of ``N`` come with a one-sided 95% lower
confidence bound on the kill rate (Clopper-Pearson), and the examples and seconds to the
first failure.

False alarms: how often a profile's run rejects a correct implementation
(:data:`~rnn_impl.testing.zoo.CORRECT`), on every property whose verdict rests on a tolerance
(``Property.tolerant``), in every dtype it runs in on the CPU. Properties without a tolerance
(bit identity, exceptions, repr, shapes) cannot reject a correct implementation by a rounding:
a failure there is a real difference, and the ci gate runs them on rnn_impl and the controls.
"""

from __future__ import annotations

import functools
import json
import math
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from hypothesis import Phase, settings

from rnn_impl.testing import devices
from rnn_impl.testing.properties import BY_NAME, CATALOGUE
from rnn_impl.testing.properties._core import IDENTICAL, Property
from rnn_impl.testing.session import Run, Session
from rnn_impl.testing.tolerances import ILL_CONDITIONED_CAP
from rnn_impl.testing.zoo import CONTROLS, CORRECT, Bug
from rnn_impl.testing.zoo.matrix import timed_run, without_shrinking


@dataclass(frozen=True)
class Power:
    """One bug under one profile: kills out of ``runs`` seeded runs, and the CI-style run;
    and the weakest property that kills it as the ci gate runs (:func:`weakest_killer`):
    ``maths`` when a tolerance or law property does, ``contract`` when only its own contract
    property does (an API or form bug), ``order-only`` when only bit identity does (the bug
    changes only the order of arithmetic)."""

    bug: str
    prop: str
    profile: str
    runs: int
    kills: int
    as_ci: bool
    examples: float
    seconds: float
    weakest: str = ""

    @property
    def nature(self) -> str:
        if not self.weakest:
            return "not killed"
        comparison = BY_NAME[self.weakest].comparison
        return {"exact": "order-only", "contract": "contract"}.get(comparison, "maths")

    @property
    def lower_bound(self) -> float:
        return kill_rate_lower_bound(self.kills, self.runs)


def kill_rate_lower_bound(kills: int, runs: int, confidence: float = 0.95) -> float:
    """The one-sided Clopper-Pearson lower bound on a kill rate seen as ``kills / runs``: the
    rate ``p`` at which ``kills`` or more kills would happen with probability ``1 -
    confidence`` (``(1 - confidence) ** (1 / runs)`` when every run killed)."""
    if kills == 0:
        return 0.0

    def at_least(p: float) -> float:
        return sum(
            math.comb(runs, k) * p**k * (1 - p) ** (runs - k) for k in range(kills, runs + 1)
        )

    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        if at_least(middle) < 1 - confidence:
            low = middle
        else:
            high = middle
    return low


@functools.cache
def weakest_killer(bug: Bug) -> str:
    """The first property of the bug's shape that kills it at its home as the ``ci`` gate
    runs, trying the tolerance and law properties first (the bug's own first among them:
    what tells a *maths* bug), then the bug's own property: "" when none does."""
    implementation = bug.implementation()
    shaped = [p for p in CATALOGUE if p.verifies(implementation.kind)]
    maths = [p for p in shaped if p.comparison in ("tolerance", "law")]
    ordered = sorted(maths, key=lambda p: p.name != bug.caught_by)
    ordered += [p for p in shaped if p.name == bug.caught_by and p not in ordered]
    as_ci = without_shrinking(settings.get_profile("ci"))
    for prop in ordered:
        session = bug.session(prop)
        (run,) = session.home_runs()
        if run.skip is None and session.verify(run, as_ci).failed:
            return prop.name
    return ""


def power(
    bugs: tuple[Bug, ...], profiles: list[str], runs: int, workers: int = 1
) -> Iterator[Power]:
    """:func:`measure` for each bug under each profile, on ``workers`` processes (each with its
    share of the CPU's threads), each row as it ends: bug by bug, in the zoo's order, when
    ``workers`` is 1."""
    tasks = [(bug.label, profile, runs) for profile in profiles for bug in bugs]
    for _, row in _run_all(_measure_task, tasks, workers):
        yield row


def _measure_task(task: tuple[str, str, int]) -> Power:
    from rnn_impl.testing import profiles
    from rnn_impl.testing.zoo import ZOO

    label, profile, runs = task
    profiles.register_profiles()
    return measure(next(b for b in ZOO if b.label == label), profile, runs)


def measure(bug: Bug, profile: str, runs: int) -> Power:
    """``bug`` against its property: ``runs`` seeded runs of ``profile`` and the CI-style one,
    and the weakest property that kills it as the ci gate runs (:func:`weakest_killer`)."""
    as_ci = without_shrinking(settings.get_profile(profile))
    seeded = settings(as_ci, derandomize=False)
    kills, examples, seconds = 0, [], []
    for seed in range(runs):
        verification, took = timed_run(bug, seeded, seed)
        if verification.failure is not None:
            kills += 1
            examples.append(verification.examples)
            seconds.append(took)
    ci_tally, _ = timed_run(bug, as_ci)
    return Power(
        bug.label,
        bug.caught_by,
        profile,
        runs,
        kills,
        ci_tally.failure is not None,
        statistics.median(examples) if examples else math.nan,
        statistics.median(seconds) if seconds else math.nan,
        weakest_killer(bug),
    )


def to_markdown(rows: list[Power], command: str) -> str:
    """The power table, one row per bug and profile."""
    lines = [
        "# Detection power",
        "",
        f"Generated by `{command}`. For each planted bug, the property designed for it, at its",
        "home device and dtype: kills in N runs with independent seeds (derandomize off, no",
        "shrinking), the one-sided 95% lower bound on the kill rate (Clopper-Pearson), the",
        "median examples and seconds to the first failure, and whether the run as CI makes it",
        "(the profile as it is; `ci` is derandomized) kills it; and the weakest property that",
        "kills it as the `ci` gate runs, trying every tolerance and law property (its own",
        "first) before its own property: a bug is *maths* when a tolerance or law kills it,",
        "*contract* when only its own contract property does (an API or form bug), and",
        "*order-only* when only bit identity does (it changes the order of arithmetic alone,",
        "which no tolerance can see, by design).",
        "",
        "| bug | property | profile | kills / N | 95% lower bound | examples to kill | seconds | as CI | weakest property that kills it | nature |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.bug} | {r.prop} | {r.profile} | {r.kills} / {r.runs} | {r.lower_bound:.3f} "
            f"| {r.examples:g} | {r.seconds:.2f} | {'killed' if r.as_ci else 'SURVIVED'} "
            f"| {r.weakest or '-'} | {r.nature} |"
        )
    missed = [r for r in rows if r.kills < r.runs or not r.as_ci]
    lines += ["", f"Rows with a miss: {len(missed)} of {len(rows)}."]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Alarms:
    """One correct implementation, one property and dtype: rejections in ``runs`` seeded
    runs, the examples they ran, how many of those were too ill-conditioned to judge and how
    many had torch's module's own bits (which hold without being judged), the seconds they
    took in all, and the first rejection's headline."""

    implementation: str
    prop: str
    dtype: str
    runs: int
    rejections: int
    examples: int
    seconds: float
    first: str
    ill_conditioned: int = 0
    profile: str = "ci"
    identical: int = 0

    @property
    def ill_share(self) -> float:
        """The share of its examples too ill-conditioned to judge."""
        return self.ill_conditioned / max(self.examples, 1)

    @property
    def upper_bound(self) -> float:
        """The one-sided 95% upper bound on the false-alarm rate (Clopper-Pearson)."""
        return false_alarm_upper_bound(self.rejections, self.runs)


def false_alarm_upper_bound(rejections: int, runs: int, confidence: float = 0.95) -> float:
    """The rate ``p`` at which ``rejections`` or fewer rejections in ``runs`` runs would
    happen with probability ``1 - confidence``: ``1 - (1 - confidence) ** (1 / runs)`` when
    there were none."""
    if rejections >= runs:
        return 1.0
    return 1 - kill_rate_lower_bound(runs - rejections, runs, confidence)


T = TypeVar("T")
R = TypeVar("R")
Task = tuple[str, str, str, str, int]
Row = tuple[Bug, Property, str]
Outcome = tuple[str, int, float, int, int]


def false_alarms(
    controls: tuple[Bug, ...],
    profile: str,
    runs: int,
    workers: int = 1,
    properties: list[str] | None = None,
    dtypes: list[str] | None = None,
    log: Path | None = None,
    in_turn: bool = False,
) -> list[Alarms]:
    """Each of ``controls`` against every property with a tolerance (or those named), in each
    CPU dtype (or those named), ``runs`` seeded runs of ``profile`` each (no shrinking: one
    rejection is enough to report), on ``workers`` processes (each with its share of the CPU's
    threads).

    ``in_turn``: ``runs`` seeded runs per *property*, seed ``s`` on one control and dtype in
    turn (:func:`in_turn_row`), one row per property: what makes a long profile (``thorough``, 1000
    examples a run) affordable on every property.

    ``log``, a JSON-lines file, keeps each finished run as it ends (implementation, property,
    dtype, profile, seed, and its outcome) and is read first: runs it holds are not run again,
    so an interrupted campaign resumes where it stopped, and a longer one extends a shorter.
    A log belongs to one version of the code, torch and Hypothesis: start a new one after
    changing any of them."""
    rows = [
        (control, run.prop, devices.dtype_name(run.dtype))
        for control in controls
        for run in _tolerant_runs(control, properties, dtypes)
    ]
    table: dict[object, list[Row]] = {}  # a table row -> the row each seed runs
    for row in rows:
        key = row[1].name if in_turn else (row[0].label, row[1].name, row[2])
        table.setdefault(key, []).append(row)
    if in_turn:
        table = {key: [in_turn_row(group, s) for s in range(runs)] for key, group in table.items()}
    else:
        table = {key: group * runs for key, group in table.items()}
    tasks = [  # seed by seed: a campaign cut short has whole seeds of every row
        (control.label, prop.name, dtype, profile, seed)
        for seed in range(runs)
        for control, prop, dtype in (ran[seed] for ran in table.values())
    ]
    done = _read_log(log)
    outcomes = {task: done[task] for task in tasks if task in done}
    todo = [task for task in tasks if task not in done]
    for task, outcome in _run_all(_seeded_run, todo, workers):
        outcomes[task] = outcome
        if log is not None:
            with log.open("a") as file:
                file.write(json.dumps([*task, *outcome]) + "\n")
        label, name, dtype, _, seed = task
        verdict = f"REJECTED: {outcome[0]}" if outcome[0] else "passed"
        print(
            f"[{len(outcomes)}/{len(tasks)}] {label}, {name}, {dtype}, seed {seed}: {verdict}"
            f" ({outcome[1]} examples, {outcome[2]:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    found = []
    for ran in table.values():
        mine = [
            outcomes[(control.label, prop.name, dtype, profile, seed)]
            for seed, (control, prop, dtype) in enumerate(ran)
        ]
        headlines, examples, seconds, ill, identical = zip(*mine)
        labels = list(dict.fromkeys(control.label for control, _, _ in ran))
        found.append(
            Alarms(
                labels[0] if len(labels) == 1 else f"{len(labels)} in turn: {', '.join(labels)}",
                ran[0][1].name,
                ", ".join(dict.fromkeys(dtype for _, _, dtype in ran)),
                runs,
                sum(map(bool, headlines)),
                sum(examples),
                sum(seconds),
                next((headline for headline in headlines if headline), ""),
                sum(ill),
                profile,
                sum(identical),
            )
        )
    return found


def in_turn_row(rows: list[Row], seed: int) -> Row:
    """The control and dtype seed ``seed`` runs a property on, from its ``rows``: the controls
    in turn, the ``k``-th control on its ``v``-th visit in its dtype ``k + v`` (in turn), so
    that each pass over the controls spreads them over the dtypes and ``controls x dtypes``
    seeds reach every pair."""
    controls = list(dict.fromkeys(control for control, _, _ in rows))
    k, visit = seed % len(controls), seed // len(controls)
    mine = [row for row in rows if row[0] is controls[k]]
    return mine[(k + visit) % len(mine)]


def _tolerant_runs(
    control: Bug, properties: list[str] | None, dtypes: list[str] | None
) -> list[Run]:
    """The CPU runs of every property of ``control``'s shape whose verdict rests on a
    tolerance (or of those named) and that it does not fail by design (``Bug.xfail``), in
    ``dtypes`` (default: all)."""
    implementation = control.implementation()
    chosen = tuple(
        p
        for p in CATALOGUE
        if p.tolerant
        and p.name not in control.xfail
        and p.verifies(implementation.kind)
        and (properties is None or p.name in properties)
    )
    session = Session((implementation,), chosen, ("cpu",), tuple(dtypes) if dtypes else None)
    return [run for run in session.runs() if run.skip is None]


def _read_log(log: Path | None) -> dict[Task, Outcome]:
    """The runs a false-alarm log holds (none when there is no log yet). A last line cut off
    by an interruption is dropped from the file; any other unreadable line is an error."""
    if log is None or not log.exists():
        return {}
    text = log.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        log.write_text(text)
    done = {}
    for number, line in enumerate(text.splitlines(), 1):
        try:
            label, name, dtype, profile, seed, *outcome = json.loads(line)
            headline, examples, seconds, ill, identical = outcome
        except ValueError:
            raise ValueError(
                f"{log}:{number}: not a false-alarm run record of this version: {line[:80]!r}"
            ) from None
        done[(label, name, dtype, profile, seed)] = (headline, examples, seconds, ill, identical)
    return done


def _run_all(run: Callable[[T], R], tasks: list[T], workers: int) -> Iterator[tuple[T, R]]:
    """Each task and ``run(task)`` as it ends, on ``workers`` spawned processes (on an
    interruption, the tasks not started are cancelled and the pool is not waited for)."""
    if workers == 1:
        for task in tasks:
            yield task, run(task)
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, context, _share_threads, (workers,))
    try:
        futures = {pool.submit(run, task): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()  # a pool left running at exit writes to its closed pipe (EBADF)


def _share_threads(workers: int) -> None:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def _seeded_run(task: Task) -> Outcome:
    """One seeded run of a control against a property: (the rejection's headline or "",
    examples checked, seconds, examples too ill-conditioned to judge, examples with torch's
    own bits). It only draws: the
    covering set is the same in every seed, and the gate checks it (tests/zoo)."""
    from rnn_impl.testing import profiles

    label, name, dtype, profile, seed = task
    profiles.register_profiles()
    control = next(c for c in CORRECT + CONTROLS if c.label == label)
    chosen = settings.get_profile(profile)
    seeded = settings(  # drawing and, where the profile targets, climbing towards the worst
        without_shrinking(chosen),
        derandomize=False,
        phases=tuple(p for p in chosen.phases if p in (Phase.generate, Phase.target)),
    )
    session = Session((control.implementation(),), (BY_NAME[name],), ("cpu",), (dtype,))
    (run,) = session.runs()
    start = time.perf_counter()
    verification = session.verify(run, seeded, seed)
    took = time.perf_counter() - start
    identical = verification.counts[IDENTICAL]
    return (
        verification.headline,
        verification.examples,
        took,
        verification.ill_conditioned,
        identical,
    )


def alarms_markdown(
    rows: list[Alarms], command: str, machine: str = "", in_turn: bool = False
) -> str:
    """The false-alarm table, one row per implementation, property and dtype (per property,
    ``in_turn``); ``machine`` names where it ran."""
    lines = [
        "# False alarms",
        "",
        f"Generated by `{command}`. Each correct implementation against every property whose",
        "verdict rests on a tolerance or a law, in every dtype it runs in on the CPU: rejections",
        "in N runs with independent seeds (derandomize off, no shrinking), the one-sided 95%",
        "upper bound on the false-alarm rate (Clopper-Pearson), the examples those runs checked",
        "and how many of them were too ill-conditioned to judge or had torch's module's own",
        "bits (those hold without being judged: `judge_results`), and the seconds they took",
        "(one process each). The runs only draw: the covering set is the same in every seed,",
        "and the gate checks it (tests/zoo/test_kill_matrix.py, for every control at home).",
        "Every rejection is a false alarm: the table must show none.",
        "",
        *(
            [
                "One row per property: its N runs go to the controls in turn, seed s to the",
                "control s mod (their number), in its dtypes in turn (`power.in_turn_row`).",
                "",
            ]
            if in_turn
            else []
        ),
        f"Measured on {machine or 'this machine'}, torch {torch.__version__}: "
        f"{sum(r.seconds for r in rows) / 60:.0f} minutes of run time in all (one process each;",
        "a campaign resumed from its log counts the runs it holds).",
        "",
        "| implementation | property | dtype | profile | rejections / N | 95% upper bound | examples | too ill-conditioned | torch's bits | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.implementation} | {r.prop} | {r.dtype} | {r.profile} | {r.rejections} / "
            f"{r.runs} | {r.upper_bound:.3f} | {r.examples} | {r.ill_conditioned} "
            f"| {r.identical} | {r.seconds:.0f} |"
        )
    rejected = [r for r in rows if r.rejections]
    runs, rejections = sum(r.runs for r in rows), sum(r.rejections for r in rows)
    examples, ill = sum(r.examples for r in rows), sum(r.ill_conditioned for r in rows)
    lines += [
        "",
        f"In all: {rejections} rejections in {runs} runs (95% upper bound on a run's false-alarm",
        f"rate {false_alarm_upper_bound(rejections, runs):.4f}), {examples} examples, {ill}",
        f"({100 * ill / max(examples, 1):.1f}%) too ill-conditioned to judge, "
        f"{sum(r.identical for r in rows)} with torch's own bits; at most "
        f"{100 * max(r.ill_share for r in rows):.1f}% in a row (the cap:",
        f"{100 * ILL_CONDITIONED_CAP:.0f}%, `tolerances.ILL_CONDITIONED_CAP`).",
        "",
        f"Rows with a false alarm: {len(rejected)} of {len(rows)}.",
    ]
    lines += [f"- {r.implementation}, {r.prop}, {r.dtype}: {r.first}" for r in rejected]
    return "\n".join(lines) + "\n"
