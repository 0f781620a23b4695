"""Snapshot what every front end of the verifier selects and concludes, and compare two
snapshots: the check that a refactoring of the front ends changed no run and no verdict.

    python scripts/front_ends.py snapshot before.json      # on the old code
    python scripts/front_ends.py snapshot after.json       # on the new code
    python scripts/front_ends.py compare before.json after.json

A snapshot runs, under the derandomized ``ci`` profile (same seeds every time):

* ``rnn-verify --json`` on implementations of each kind, a planted bug, an adapter with
  narrowing flags, and an expected-failures file;
* the pytest plugin on the sample project (``examples/external_project``), by JUnit XML;
* ``rnn-verify-search`` on a bug the gate misses (random by design: the runs it selects and
  whether it finds the bug are compared, not its examples);
* the zoo's kill matrix, detection power and false alarms on a few bugs and controls.

Each record keeps what a front end decides (the runs, their status and examples, the
verdict, exit status) and the first line of each failure; ``compare`` prints every
difference, and the wording differences apart from the decisions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZOO = "rnn_impl.testing.zoo"

VERIFY = {
    "drop-in RNN": ["--impl", "rnn_impl:RNN"],
    "planted bug": ["--impl", f"{ZOO}.bugs:ReverseNotFlippedBack", "--dtype", "float64"],
    "nn.LSTM": ["--impl", "torch.nn:LSTM", "--dtype", "float32", "--dtype", "float64"],
    "nn.GRUCell": ["--impl", "torch.nn:GRUCell"],
    "notebook with adapter": [
        "--impl",
        f"{ZOO}.notebook:notebook_rnn",
        "--adapter",
        f"{ZOO}.notebook:NotebookAdapter",
        "--layout",
        "batched",
        "--fix",
        "num_layers=1",
        "--dtype",
        "float32",
    ],
    "expected failures": [
        "--impl",
        "rnn_impl.testing.zoo.bugs:ReprShowsNonlinearity",
        "--property",
        "repr",
        "--property",
        "parameters",
        "--expected-failures",
        "{expected}",
    ],
}


def _rnn_verify(name: str, args: list[str], work: Path) -> dict:
    expected = work / "expected.txt"
    expected.write_text("repr-*  # planted\n")
    out = work / f"{name.replace(' ', '-')}.json"
    argv = [a.replace("{expected}", str(expected)) for a in args]
    run = subprocess.run(
        ["rnn-verify", *argv, "--profile", "ci", "--json", str(out), "--repro-dir", str(work)],
        capture_output=True,
        text=True,
        cwd=work,
    )
    record: dict = {"exit": run.returncode, "last line": run.stdout.strip().splitlines()[-1:]}
    if out.exists():
        data = json.loads(out.read_text())
        record["verdict"] = data.get("verdict")
        record["runs"] = {
            f"{r['property']}-{r['device']}-{r['dtype']}": {
                "status": r["status"],
                "examples": r["examples"],
                "reason": (r.get("reason") or "").splitlines()[:1],
                "departs": r.get("departs", []),
                "suspects": r.get("suspects", []),
            }
            for r in data["results"]
        }
    else:
        record["stderr"] = run.stderr.strip().splitlines()[-1:]
    return record


def _plugin(work: Path) -> dict:
    xml = work / "plugin.xml"
    project = ROOT / "examples" / "external_project"
    paths = [str(project), *filter(None, [os.environ.get("PYTHONPATH")])]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={xml}"],
        capture_output=True,
        text=True,
        cwd=project,
        env={**os.environ, "CI": "true", "PYTHONPATH": os.pathsep.join(paths)},
    )
    cases = {}
    for case in ElementTree.parse(xml).getroot().iter("testcase"):
        outcome = "pass"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                if child.tag == "skipped" and "xfail" in (child.get("type") or ""):
                    outcome = "xfail"
        cases[case.get("name")] = outcome
    return {"exit": run.returncode, "tests": cases}


def _search(work: Path) -> dict:
    run = subprocess.run(
        [
            "rnn-verify-search",
            "--impl",
            f"{ZOO}.escapes:RareRNN",
            "--property",
            "output_exact",
            "--layout",
            "batched",
            "--workers",
            "1",
            "--time",
            "120",
            "--database",
            str(work / "db"),
        ],
        capture_output=True,
        text=True,
        cwd=work,
    )
    lines = run.stdout.splitlines()
    return {
        "exit": run.returncode,
        "first line": lines[0].split(", database")[0] if lines else "",
        "found": sorted({line.split()[1] for line in lines if line.startswith("FAIL ")}),
    }


ZOO_SCRIPT = """
import json, sys
from hypothesis import settings
from rnn_impl.testing import profiles
from rnn_impl.testing.zoo import CONTROLS, CORRECT, ZOO
profiles.register_profiles()
ci = settings.get_profile("ci")
try:
    from rnn_impl.testing.zoo.matrix import kill_matrix
except ImportError:
    kill_matrix = None
from rnn_impl.testing.zoo import matrix, power
picked = [b for b in ZOO if b.label in NAMES] + [c for c in CONTROLS if c.label in CONTROL_NAMES]
matrix_rows = {
    bug: {prop: tally.failed for prop, tally in row.items()}
    for bug, row in matrix.kill_matrix(tuple(picked), ci).items()
}
power_rows = [
    [r.bug, r.prop, r.kills, r.runs, r.as_ci]
    for r in (power.measure(b, "ci", 3) for b in picked if b.caught_by)
]
alarms = [
    [getattr(r, "implementation", None) or r.subject, r.prop, r.dtype, r.rejections, r.runs]
    for r in power.false_alarms(CORRECT[:2], "ci", 2, properties=["output_close", "gradients"])
]
json.dump({"matrix": matrix_rows, "power": power_rows, "false alarms": alarms}, sys.stdout)
"""


def _zoo() -> dict:
    names = ["ReverseNotFlippedBack", "MissingBias", "DoubledBias", "CellNaiveOrder"]
    names += ["GRUGateOrderZR", "LSTMProjectionDetached", "TruncatedBackward"]
    controls = ["HookedRNN (control)", "HookedLSTM (control)", "torch.nn.GRUCell (control)"]
    script = f"NAMES = {names!r}\nCONTROL_NAMES = {controls!r}\n" + ZOO_SCRIPT
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    if run.returncode:
        return {"error": run.stderr.strip().splitlines()[-3:]}
    return json.loads(run.stdout)


def snapshot(path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        found: dict = {"rnn-verify": {}}
        for name, args in VERIFY.items():
            print(f"rnn-verify: {name}", file=sys.stderr, flush=True)
            found["rnn-verify"][name] = _rnn_verify(name, args, work)
        print("plugin", file=sys.stderr, flush=True)
        found["plugin"] = _plugin(work)
        print("search", file=sys.stderr, flush=True)
        found["search"] = _search(work)
        print("zoo", file=sys.stderr, flush=True)
        found["zoo"] = _zoo()
    path.write_text(json.dumps(found, indent=1, sort_keys=True))


WORDING = ("reason", "last line", "departs", "suspects", "first line", "stderr")
"""Fields that hold words, not decisions: their differences are listed apart."""


def _walk(before: object, after: object, where: str, out: list[tuple[str, str]]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            if key not in after:
                out.append((where, f"{where}/{key}: only before"))
            elif key not in before:
                out.append((where, f"{where}/{key}: only after"))
            else:
                _walk(before[key], after[key], f"{where}/{key}", out)
    elif before != after:
        out.append((where, f"{where}: {before!r} -> {after!r}"))


def compare(before_path: Path, after_path: Path) -> int:
    before = json.loads(before_path.read_text())
    after = json.loads(after_path.read_text())
    found: list[tuple[str, str]] = []
    _walk(before, after, "", found)
    decisions = [line for where, line in found if where.rsplit("/", 1)[-1] not in WORDING]
    wording = [line for where, line in found if where.rsplit("/", 1)[-1] in WORDING]
    print(f"decisions that differ: {len(decisions)}")
    for line in decisions:
        print(f"  {line}")
    print(f"wording that differs: {len(wording)}")
    for line in wording:
        print(f"  {line}")
    return 1 if decisions else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "snapshot":
        snapshot(Path(argv[1]))
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        return compare(Path(argv[1]), Path(argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
