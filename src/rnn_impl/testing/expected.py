"""Expected failures: runs a project knows to fail, kept in a file it reviews (torch-free).

One run per line, as ``rnn-verify`` and the pytest plugin name runs (``property-device-dtype``,
``*`` matching anything), then ``#`` and the reason, which is required::

    output_exact-cpu-*        # sums x W^T + h W^T + b in another order than ATen
    repr-*                    # no extra_repr yet

Blank lines and lines that start with ``#`` are ignored. Read by ``rnn-verify
--expected-failures FILE`` and the plugin (``--rnn-expected-failures FILE`` or the
``expected_failures`` argument of :func:`~rnn_impl.testing.pytest_plugin.parametrize_catalogue`).
An expected failure that fails is reported as such; one that passes fails the run under a
``ci`` profile (derandomized: the list only shrinks) and is reported elsewhere
(:func:`judge`, :func:`strict`). A pattern that matches no run the catalogue has for the
implementation is a mistake (:func:`unmatched`).
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

    def __str__(self) -> str:
        return f"{self.pattern} (line {self.line})"


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


def load(path: str | Path) -> list[Expected]:
    """:func:`read`, every mistake a ``ValueError`` saying it is about expected failures (a
    missing file, a line without a reason)."""
    try:
        return read(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"expected failures: {error}") from None


def matching(expected: list[Expected], run_id: str) -> Expected | None:
    """The first entry whose pattern matches ``run_id`` (``property-device-dtype``)."""
    for entry in expected:
        if fnmatch.fnmatchcase(run_id, entry.pattern):
            return entry
    return None


def unmatched(expected: list[Expected], run_ids: list[str]) -> list[Expected]:
    """The entries whose pattern matches none of ``run_ids`` (stale, or a typo)."""
    return [e for e in expected if not any(fnmatch.fnmatchcase(i, e.pattern) for i in run_ids)]


def strict(profile: str) -> bool:
    """Whether a listed run that passes fails the run: under the ``ci`` profile, which is
    derandomized, so that the list only shrinks."""
    return profile == "ci"


def described(entry: Expected, path: str | Path) -> str:
    """``"expected to fail (FILE:LINE: reason)"``."""
    return f"expected to fail ({path}:{entry.line}: {entry.reason})"


def judge(entry: Expected, path: str | Path, failed: bool, profile: str) -> tuple[str, str]:
    """The status of a listed run and why: ``xfail`` when it failed; when it passed, ``fail``
    under a :func:`strict` profile, else ``xpass``."""
    if failed:
        return "xfail", described(entry, path)
    status = "fail" if strict(profile) else "xpass"
    return status, f"listed as {described(entry, path)} but passes: remove it"
