"""Expected failures: runs a project knows to fail, kept in a file it reviews (torch-free).

One run per line, as ``rnn-verify`` and the pytest plugin name runs (``property-device-dtype``,
``*`` matching anything), then ``#`` and the reason, which is required::

    output_exact-cpu-*        # sums x W^T + h W^T + b in another order than ATen
    repr-*                    # no extra_repr yet

Blank lines and lines that start with ``#`` are ignored. Read by ``rnn-verify
--expected-failures FILE`` and the plugin (``--rnn-expected-failures FILE`` or the
``expected_failures`` argument of :func:`~rnn_impl.testing.pytest_plugin.parametrize_catalogue`).
An expected failure that fails is reported as such; one that passes fails the run under a
``ci`` profile (derandomized: the list only shrinks) and is reported elsewhere.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Expected:
    """One line of the file: the runs it names (a pattern over run ids) and why they fail."""

    pattern: str
    reason: str
    line: int


def read(path: str | Path) -> list[Expected]:
    """The expected failures in ``path``.

    Raises:
        ValueError: a line without a ``# reason``, naming the file and line.
    """
    found = []
    for number, text in enumerate(Path(path).read_text().splitlines(), 1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pattern, _, reason = stripped.partition("#")
        if not reason.strip():
            raise ValueError(
                f"{path}:{number}: {pattern.strip()!r} has no reason: add '# why it fails'"
            )
        found.append(Expected(pattern.strip(), reason.strip(), number))
    return found


def matching(expected: list[Expected], run_id: str) -> Expected | None:
    """The first entry whose pattern matches ``run_id`` (``property-device-dtype``)."""
    for entry in expected:
        if fnmatch.fnmatchcase(run_id, entry.pattern):
            return entry
    return None
