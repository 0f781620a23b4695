"""rnn-verify's report: the verdict and its exit status, the summary, the table, JSON and
JUnit XML, and a failure's block."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

import pytest

from rnn_impl.testing import report
from rnn_impl.testing.report import STATUSES, Result


def counts(**given):
    return {status: given.get(status.replace(" ", "_"), 0) for status in STATUSES}


@pytest.mark.parametrize(
    "given, words, status",
    [
        ({"pass_": 3}, "conforms", report.CONFORMING),
        ({"pass_": 3, "fail": 1}, "does not conform", report.NONCONFORMING),
        ({"pass_": 3, "not_reached": 1}, "conforms on what was reached", report.INCOMPLETE),
        ({"pass_": 3, "skip": 1}, "conforms on what ran here", report.CONFORMING),
        ({"pass_": 3, "xfail": 1}, "conforms on what ran here", report.CONFORMING),
    ],
)
def test_the_verdict_and_its_exit_status(given, words, status):
    tallied = counts(**{("pass" if k == "pass_" else k): v for k, v in given.items()})
    said, code = report.verdict(tallied)
    assert said.startswith(words) and code == status


def test_the_summary_names_what_occurred():
    assert report.summary(counts(**{"pass": 2, "xfail": 1})) == (
        "2 passed, 0 failed, 0 skipped, 1 failed as expected"
    )


def results():
    return [
        Result(
            "output_close",
            "differential",
            "cpu",
            "float32",
            "pass",
            examples=30,
            max_abs=1e-7,
            eps_units=0.8,
        ),
        Result(
            "output_close",
            "differential",
            "cpu",
            "float64",
            "fail",
            reason="PropertyFailure: output differs\n  config: RNN(...)",
            examples=2,
            departs=["output first differs at step 0"],
        ),
        Result("repr", "api", "cpu", "float32", "skip", reason="not here"),
    ]


def test_the_table_has_a_row_per_property_and_device_and_a_column_per_dtype():
    lines = report.table(results()).splitlines()
    assert lines[0].split() == ["property", "device", "float32", "float64"]
    assert lines[2].split()[:4] == ["output_close", "cpu", "pass", "30"]
    assert "FAIL" in lines[2] and lines[3].split() == ["repr", "cpu", "skip", "-"]


def test_json_and_junit_hold_every_result(tmp_path):
    report.write_json(results(), tmp_path / "r.json", {"verdict": "does not conform"})
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["verdict"] == "does not conform" and len(data["results"]) == 3
    report.write_junit(results(), tmp_path / "r.xml", "rnn-verify x")
    suite = ElementTree.parse(tmp_path / "r.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")


def test_a_failure_block_says_the_example_once_and_where_it_departs():
    block = report.failure_block(results()[1])
    assert block.splitlines()[0] == "FAIL output_close on cpu/float64"
    assert "config:" not in block and "departs: output first differs at step 0" in block


def test_a_tier_verdict_names_the_selected_properties_that_had_no_run():
    """``--dtype float32`` leaves out the float64-only laws: the verdict says so rather than
    holding on fewer properties in silence."""
    from rnn_impl.testing.properties import BY_NAME

    ran = Result("output_close", "differential", "cpu", "float32", "pass", examples=3)
    selected = (BY_NAME["output_close"], BY_NAME["gradcheck"], BY_NAME["streaming"])
    (numerics, *_) = report.tier_verdicts([ran], ("numerics",), "nn.RNN", selected)
    assert numerics == (
        "  numerics: computes what nn.RNN computes (1 passed; not run with the dtypes and "
        "devices chosen: gradcheck, streaming (float64 only))"
    )
