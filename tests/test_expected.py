"""Expected-failures files: read, matched to runs, judged (strictly under ci), checked for
patterns that match nothing."""

from __future__ import annotations

import pytest

from rnn_impl.testing import expected


def test_a_file_is_read_with_its_reasons(tmp_path):
    listed = tmp_path / "expected.txt"
    listed.write_text("# a comment\n\nrepr-*  # own repr\noutput_exact-cpu-float32 # order\n")
    entries = expected.read(listed)
    assert [(e.pattern, e.reason, e.line) for e in entries] == [
        ("repr-*", "own repr", 3),
        ("output_exact-cpu-float32", "order", 4),
    ]
    assert expected.matching(entries, "repr-cpu-float32") is entries[0]
    assert expected.matching(entries, "output_exact-cpu-float64") is None


def test_a_line_without_a_reason_is_refused(tmp_path):
    listed = tmp_path / "expected.txt"
    listed.write_text("repr-*\n")
    with pytest.raises(ValueError, match=r"expected.txt:1: 'repr-\*' has no reason"):
        expected.read(listed)


def test_patterns_that_match_no_run_are_found():
    entries = [expected.Expected("repr-*", "r", 1), expected.Expected("paramters-*", "typo", 2)]
    assert expected.unmatched(entries, ["repr-cpu-float32", "parameters-cpu-float32"]) == [
        entries[1]
    ]


@pytest.mark.parametrize(
    "failed, profile, status",
    [(True, "ci", "xfail"), (True, "dev", "xfail"), (False, "ci", "fail"), (False, "dev", "xpass")],
)
def test_a_listed_run_is_judged_strictly_under_ci(failed, profile, status):
    entry = expected.Expected("repr-*", "own repr", 3)
    judged, why = expected.judge(entry, "x.txt", failed, profile)
    assert judged == status and "x.txt:3: own repr" in why
    assert expected.strict(profile) == (profile == "ci")
