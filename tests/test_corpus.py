"""The regression corpus: written, read, replayed by rnn-verify and the plugin, and added to by
``--save-failures`` (rnn_impl.testing.corpus)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnn_impl.testing import corpus
from rnn_impl.testing.cases import InputCase
from rnn_impl.testing.strategies import Example
from tests.support import narrow
from tests.test_cli import rnn_verify_here

ROOT = Path(__file__).resolve().parent.parent
NARROW = ("--impl", "tests.support.narrow:NarrowRNN", "--property", "output_exact")
ONE_RUN = ("--device", "cpu", "--dtype", "float32", "--profile", "ci")


def corner_failure() -> corpus.Failure:
    example = Example(narrow.CONFIG, narrow.CASE, "cpu", torch.float32)
    return corpus.failure_of("output_exact", example, "by hand, in this test", "off by 1e-4")


def test_a_saved_failure_reads_back_and_is_saved_once(tmp_path):
    path = tmp_path / "corpus.json"
    packed = Example(
        narrow.CONFIG,
        InputCase(layout="packed_unsorted", seq_len=4, batch=3, lengths=(4, 1, 2)),
        "cpu",
        torch.float64,
    )
    failures = [corner_failure(), corpus.failure_of("gradients", packed, "by hand", "")]
    assert corpus.save(path, failures) == 2
    assert corpus.save(path, [corner_failure()]) == 0
    read = corpus.read(path)
    assert sorted(read, key=str) == sorted(failures, key=str)
    assert corpus.replay(read, "gradients", "cpu", "float64") == [packed]
    assert corpus.replay(read, "gradients", "cpu", "float32") == []
    assert json.loads(path.read_text())["format"] == corpus.FORMAT


@pytest.mark.parametrize(
    "text, says",
    [
        ("{", "not JSON"),
        ('{"format": "something else"}', "not a corpus"),
        ('{"format": "rnn-impl corpus 1", "failures": [{"property": "x"}]}', "failures[0]"),
        (
            '{"format": "rnn-impl corpus 1", "failures": [{"property": "x", "device": "cpu",'
            ' "dtype": "float8", "config": {}, "case": {}}]}',
            "unknown dtype 'float8'",
        ),
    ],
)
def test_a_file_that_is_not_a_corpus_is_a_one_line_usage_error(
    text, says, tmp_path, monkeypatch, capsys
):
    (tmp_path / "corpus.json").write_text(text)
    run = rnn_verify_here(
        *NARROW,
        *ONE_RUN,
        "--corpus",
        "corpus.json",
        cwd=tmp_path,
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert says in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_rnn_verify_replays_the_corpus_and_saves_what_failed(tmp_path, monkeypatch, capsys):
    """The ci search alone misses the corner (the premise, checked); with the corner recorded,
    the same ci run fails on it, and --save-failures records it once."""
    here = dict(cwd=ROOT, monkeypatch=monkeypatch, capsys=capsys)
    recorded, saved = tmp_path / "corpus.json", tmp_path / "saved.json"
    missed = rnn_verify_here(*NARROW, *ONE_RUN, "--repro-dir", str(tmp_path), **here)
    assert missed.returncode == 0, missed.stdout
    corpus.save(recorded, [corner_failure()])
    args = (*NARROW, *ONE_RUN, "--repro-dir", str(tmp_path), "--corpus", str(recorded))
    caught = rnn_verify_here(*args, "--save-failures", str(saved), **here)
    assert caught.returncode == 1, caught.stdout
    assert "1 new failure(s) saved" in caught.stdout
    assert [f.example() for f in corpus.read(saved)] == [corner_failure().example()]
    again = rnn_verify_here(*args, "--save-failures", str(saved), **here)
    assert "0 new failure(s) saved" in again.stdout and len(corpus.read(saved)) == 1


PROJECT_TEST = """
from rnn_impl.testing import parametrize_catalogue

@parametrize_catalogue("narrow:NarrowRNN", corpus={corpus!r})
def test_catalogue(rnn_run):
    rnn_run()
"""


@pytest.mark.parametrize("with_corpus", [False, True], ids=["no-corpus", "corpus"])
def test_the_plugin_replays_the_corpus_in_a_users_project(with_corpus, tmp_path):
    """A user's project: its own test file names the implementation and the corpus; pytest
    run there as the user runs it."""
    shutil.copy(narrow.__file__, tmp_path / "narrow.py")
    if with_corpus:
        corpus.save(tmp_path / "rnn-corpus.json", [corner_failure()])
    (tmp_path / "test_rnn.py").write_text(
        PROJECT_TEST.format(corpus="rnn-corpus.json" if with_corpus else None)
    )
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(tmp_path)}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-q",
            "-k",
            "output_exact-cpu-float32",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == (1 if with_corpus else 0), run.stdout[-3000:] + run.stderr
    assert ("1 failed" if with_corpus else "1 passed") in run.stdout
