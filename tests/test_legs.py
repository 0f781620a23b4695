"""scripts/legs.py: which tests each leg of the gate runs, read from tox's own configuration."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import legs  # noqa: E402


def test_a_test_on_no_leg_of_the_gate_is_named_and_counted():
    every = ["tests/a.py::x", "tests/a.py::y", "tests/b.py::z"]
    gate = {"torch99 (ci)": ["tests/a.py::x"], "isa": ["tests/b.py::z"]}
    text, nowhere = legs.table(every, every, gate)
    assert nowhere == 1 and "- tests/a.py::y" in text
    assert "| tests/a.py | 2 | 2 | 1 | 0 |" in text


def test_the_local_loop_alone_does_not_count_as_a_leg():
    every = ["tests/a.py::x"]
    assert legs.table(every, every, {"torch99 (ci)": []})[1] == 1


@pytest.mark.skipif(shutil.which("tox") is None, reason="tox is not installed: pip install tox")
def test_each_torch_leg_selects_with_the_marker_and_profile_tox_ini_gives_it():
    assert legs.tox_selection("torch213") == ["-m", ""]
    assert legs.tox_selection("torch29") == ["-m", "not once"]
    assert legs.tox_profile("torch213") == "ci"
    assert legs.tox_profile("torch29") == "covering"
    assert legs.tox_selection("isa") is None and legs.tox_selection("lint") is None
