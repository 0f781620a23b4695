"""Independent jobs on worker processes, their results handed back as each ends: what lets
``rnn-verify --workers N`` use the machine's cores (this module imports neither torch nor
Hypothesis).

Workers are spawned (never forked: a forked torch can deadlock in its thread pools), each set up
once by ``start(setup)``, then handed job indices for ``work(index)``; ``start`` and ``work``
must be module-level functions so that a spawned process can import them. With one worker,
or when a worker cannot be set up (a class that imports only in the main process, say: the
pool breaks, and :attr:`Pool.broken` says why), the jobs not yet done run here, in order,
through ``here(index)``, which uses what this process has already built.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

WORKERS_ENV = "RNN_VERIFY_WORKERS"


class Unavailable(Exception):
    """This worker could not be set up (the message says why)."""


_SETUP_FAILED: list[str] = []


def _start(start: Callable[[Any], None], setup: Any) -> None:
    try:
        start(setup)
    except Exception as error:  # reported by every job it is given, not as a traceback
        _SETUP_FAILED.append(f"{type(error).__name__}: {error}")


def _work(work: Callable[[int], Any], index: int) -> Any:
    if _SETUP_FAILED:
        raise Unavailable(_SETUP_FAILED[0])
    return work(index)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """``$RNN_VERIFY_WORKERS``, else every core.

    Raises:
        ValueError: the variable is set to something other than a positive integer.
    """
    value = os.environ.get(WORKERS_ENV)
    if value is None:
        return cores()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${WORKERS_ENV}={value!r}: set it to a positive number of workers")
    return int(value)


class Pool:
    """Run ``work(index)`` for each index given on ``workers`` processes, each first running
    ``start(setup)``; or ``here(index)`` in this one, when ``workers`` is 1."""

    def __init__(
        self,
        workers: int,
        here: Callable[[int], Any],
        start: Callable[[Any], None],
        setup: Any,
        work: Callable[[int], Any],
    ) -> None:
        self.workers, self.here = workers, here
        self.start, self.setup, self.work = start, setup, work
        self.broken = ""
        """Why the workers could not be used ("" while they can)."""

    def results(
        self, indices: Sequence[int], go_on: Callable[[], bool] = lambda: True
    ) -> Iterator[tuple[int, Any]]:
        """``(index, work(index))`` as each job ends (in order with one worker); a job is only
        started while ``go_on()`` holds."""
        if self.workers == 1:
            yield from self._here(list(indices), go_on)
            return
        pending = list(indices)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            self.workers, context, initializer=_start, initargs=(self.start, self.setup)
        ) as pool:
            running: dict[Future[Any], int] = {}
            try:
                while pending or running:
                    while pending and len(running) < self.workers and go_on():
                        index = pending.pop(0)
                        running[pool.submit(_work, self.work, index)] = index
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=running.__getitem__):
                        result = future.result()
                        yield running.pop(future), result
            except (Unavailable, BrokenProcessPool) as error:
                self.broken = str(error) or "a worker process ended unexpectedly"
                pending = sorted([*running.values(), *pending])
                for future in running:
                    future.cancel()
        if self.broken:
            yield from self._here(pending, go_on)

    def _here(self, indices: list[int], go_on: Callable[[], bool]) -> Iterator[tuple[int, Any]]:
        for index in indices:
            if not go_on():
                return
            yield index, self.here(index)
