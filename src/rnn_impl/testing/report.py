"""rnn-verify's outputs: the result records, the terminal table, JSON, JUnit XML and the
standalone reproducer written for each failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

if TYPE_CHECKING:
    from rnn_impl.testing.oracle import Implementation
    from rnn_impl.testing.strategies import Example

DTYPE_COLUMNS = ("float32", "float64", "float16", "bfloat16")


STATUSES = ("pass", "fail", "skip", "not reached", "xfail", "xpass")
"""What a run can end as: it held, failed, was skipped, was not reached (``--max-time`` ran
out first), or, listed as an expected failure, failed or passed."""

STATUS_WORDS = {
    "pass": "passed",
    "fail": "failed",
    "skip": "skipped",
    "not reached": "not reached",
    "xfail": "failed as expected",
    "xpass": "passed though expected to fail",
}
"""How reports say each status."""

CONFORMING, NONCONFORMING, USAGE_ERROR, INCOMPLETE = 0, 1, 2, 3
"""rnn-verify's exit statuses."""


@dataclass
class Result:
    """One property on one device and dtype: ``status`` is one of :data:`STATUSES`;
    ``max_abs`` and ``eps_units`` are the largest error seen, on the failing example for a
    failure; ``differs`` what differs in a failure
    (:mod:`rnn_impl.testing.exceptions`); ``departs`` where the implementation first departs
    from torch's module on it and ``suspects`` the settings it needs
    (:mod:`rnn_impl.testing.localise`)."""

    property: str
    category: str
    device: str
    dtype: str
    status: str
    reason: str = ""
    examples: int = 0
    max_abs: float = 0.0
    eps_units: float = 0.0
    seconds: float = 0.0
    ill_conditioned: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    differs: str = ""
    counterexample: str = ""
    reproducer: str = ""
    cause: str = ""
    departs: list[str] = field(default_factory=list)
    suspects: list[str] = field(default_factory=list)


def result_of(run: Any, verification: Any, seconds: float = 0.0) -> Result:
    """The :class:`Result` of a :class:`~rnn_impl.testing.session.Run` that ran, from its
    :class:`~rnn_impl.testing.runner.Verification`: for a failure, the error, what differs,
    the minimal example, and where it departs from torch and what it needs
    (:func:`~rnn_impl.testing.localise.describe`)."""
    from rnn_impl.testing import devices
    from rnn_impl.testing.localise import describe

    prop = run.prop
    result = Result(prop.name, prop.category, run.device, devices.dtype_name(run.dtype), "pass")
    result.seconds, result.examples = seconds, verification.examples
    result.ill_conditioned = verification.ill_conditioned
    result.counts = dict(sorted(verification.counts.items()))
    result.max_abs, result.eps_units = verification.worst.max_abs, verification.worst.eps_units
    failure = verification.failure
    if failure is None:
        return result
    result.status = "fail"
    result.reason = f"{type(failure).__name__}: {failure}".strip()
    result.differs = getattr(failure, "differs", "")
    measure = getattr(failure, "measure", None)
    if measure is not None:
        result.max_abs, result.eps_units = measure.max_abs, measure.eps_units
    if verification.last is not None:
        result.counterexample = str(verification.last)
        located = describe(prop, run.implementation, verification.last)
        result.departs, result.suspects = located["departs"], located["suspects"]
    return result


def cell(result: Result) -> str:
    """What the table shows for one result."""
    if result.status in ("skip", "not reached", "xfail"):
        return result.status
    if result.status == "xpass":
        return "XPASS"
    if result.status == "fail":
        return "FAIL"
    notes = [f"{result.ill_conditioned} ill-conditioned"] if result.ill_conditioned else []
    notes += [f"{name} {n}" for name, n in result.counts.items()]
    if result.max_abs != 0.0:
        notes.insert(0, f"{result.eps_units:.3g}eps")
    return f"pass {result.examples}" + (f" ({', '.join(notes)})" if notes else "")


def table(results: list[Result]) -> str:
    """Property x device rows, one column per dtype; each cell is the result, the examples
    run and the largest error in units of the dtype's eps."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for r in results:
        rows.setdefault((r.property, r.device), {})[r.dtype] = cell(r)
    columns = [d for d in DTYPE_COLUMNS if any(r.dtype == d for r in results)]
    header = ["property", "device", *columns]
    body = [
        [prop, device, *[cells.get(c, "-") for c in columns]]
        for (prop, device), cells in rows.items()
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]

    def render(line: list[str]) -> str:
        return "  ".join(str(value).ljust(width) for value, width in zip(line, widths)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *[render(line) for line in body]])


def ill_conditioned(results: list[Result]) -> str:
    """How many examples were too ill-conditioned to judge, of those the runs that judge by
    sensitivity ran ("" when none was)."""
    unjudged = sum(r.ill_conditioned for r in results)
    if not unjudged:
        return ""
    ran = sum(r.examples for r in results if r.status in ("pass", "fail"))
    return (
        f"examples too ill-conditioned to judge (rounding alone moves most of their values as "
        f"far as an error would): {unjudged} of {ran}, never counted as passed or failed"
    )


def largest_errors(results: list[Result]) -> str:
    """The largest absolute error per dtype, over every property that passed."""
    lines = []
    for dtype in DTYPE_COLUMNS:
        ran = [r for r in results if r.dtype == dtype and r.status == "pass"]
        if ran:
            top = max(ran, key=lambda r: r.eps_units)
            lines.append(
                f"  {dtype}: max abs error {top.max_abs:.3g} ({top.eps_units:.3g} eps) in {top.property} on {top.device}"
            )
    return "\n".join(lines)


def write_json(results: list[Result], path: Path, meta: dict[str, object]) -> None:
    """``meta`` (the implementation, versions, the verdict and counts), then every result."""
    path.write_text(json.dumps({**meta, "results": [asdict(r) for r in results]}, indent=2))


def write_junit(results: list[Result], path: Path, name: str) -> None:
    suite = ElementTree.Element(
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(sum(r.status == "fail" for r in results)),
        skipped=str(sum(r.status in ("skip", "not reached", "xfail", "xpass") for r in results)),
    )
    for r in results:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"rnn_verify.{r.category}",
            name=f"{r.property}[{r.device}-{r.dtype}]",
            time=f"{r.seconds:.3f}",
        )
        if r.status == "fail":
            failure = ElementTree.SubElement(
                case, "failure", message=r.reason.splitlines()[0] if r.reason else ""
            )
            failure.text = r.reason + "".join(
                f"\n{label}: {value}"
                for label, value in (("cause", r.cause), ("reproducer", r.reproducer))
                if value
            )
        elif r.status in ("skip", "not reached", "xfail", "xpass"):
            ElementTree.SubElement(case, "skipped", message=r.reason)
    ElementTree.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


REPRODUCER = '''\
"""rnn-verify reproducer: {property} fails for {impl} on {device}/{dtype}.

Run it with python from any directory, in an environment with rnn-impl[verify]; it prints
the difference from torch's module and exits 1 while the implementation still fails, 0 once
it holds, and 2 when the example cannot be set up here.
"""

import os
import sys

# where rnn-verify ran (the implementation's module), after the installed packages
sys.path.append({cwd!r})


def outcome(status, code):
    """Exit with ``code``; ``$RNN_VERIFY_OUTCOME`` names a file that gets ``status``."""
    if os.environ.get({outcome_env!r}):
        with open(os.environ[{outcome_env!r}], "w") as file:
            file.write(status)
    sys.exit(code)


try:
    from dataclasses import replace

    import torch
    from rnn_impl.testing import BY_NAME, Example, InputCase, ModuleConfig, load_implementation
    from rnn_impl.testing.kinds import KINDS

    prop = BY_NAME[{property!r}]
    implementation = load_implementation(
        {impl!r}, {adapter!r}, KINDS[{kind!r}], arguments={arguments!r}, gate_order={gate_order!r}
    ).holding({held!r})
    implementation = replace(implementation, takes_state={takes_state!r})
    example = {example}
except Exception as error:
    print(f"cannot set the example up: {{type(error).__name__}}: {{error}}")
    outcome("not set up", 2)
print("property:", prop.name, "-", prop.doc)
print("case:", example)
try:
    prop.check(implementation, example)
except Exception as failure:
    print(f"{{type(failure).__name__}}: {{failure}}")
    outcome("fails", 1)
print("the property holds now")
outcome("holds", 0)
'''
OUTCOME_ENV = "RNN_VERIFY_OUTCOME"
"""The environment variable naming the file a reproducer writes its outcome to: ``holds``,
``fails`` or ``not set up``."""


def write_reproducer(
    directory: Path, result: Result, example: Example, implementation: Implementation
) -> Path:
    """A standalone script that rebuilds ``implementation`` as it was verified (its adapter,
    kind, aliases, gate order, held arguments and state form) and ``example``, and shows the
    failure."""
    directory.mkdir(parents=True, exist_ok=True)
    impl = implementation.name
    safe = "".join(ch if ch.isalnum() else "-" for ch in impl).strip("-")
    path = (
        directory / f"rnn-verify-repro-{safe}-{result.property}-{result.device}-{result.dtype}.py"
    )
    path.write_text(
        REPRODUCER.format(
            property=result.property,
            impl=impl,
            adapter=implementation.adapter_name,
            kind=implementation.kind.name,
            arguments=implementation.arguments,
            gate_order=implementation.gate_order,
            held=implementation.binding.held,
            takes_state=implementation.takes_state,
            device=result.device,
            dtype=result.dtype,
            cwd=os.getcwd(),
            example=repr(example),
            outcome_env=OUTCOME_ENV,
        )
    )
    return path


STRICT_BLAS = {"MKL_CBWR": "AUTO,STRICT"}
"""MKL's conditional numerical reproducibility: results that do not depend on where the
operands sit in memory (nor on the CPU's ISA)."""


def classify(reproducer: Path) -> str:
    """Why an exact property failed: the reproducer rerun in a subprocess under
    :data:`STRICT_BLAS`, its outcome read from the file :data:`OUTCOME_ENV` names.

    Returns:
        ``"BLAS alignment: ..."`` when it then holds: the implementation hands BLAS operands
        at other memory offsets than ATen does (results differ only where MKL rounds by
        alignment, as on AMD EPYC); ``"operation order: ..."`` when it still fails: another
        sequence of operations, or a real mistake; ``"not classified: ..."`` otherwise.
    """
    import tempfile

    import torch

    if not torch.backends.mkl.is_available():
        return "not classified: this torch is not built with MKL"
    with tempfile.TemporaryDirectory() as directory:
        written = Path(directory) / "outcome"
        try:
            run = subprocess.run(
                [sys.executable, str(reproducer)],
                env={**os.environ, **STRICT_BLAS, OUTCOME_ENV: str(written)},
                capture_output=True,
                text=True,
                timeout=600,
            )
        except subprocess.TimeoutExpired:
            return "not classified: the reproducer ran for over 600 s under MKL_CBWR=AUTO,STRICT"
        outcome = written.read_text() if written.exists() else None
    if outcome == "holds":
        return (
            "BLAS alignment: the minimal example holds under MKL_CBWR=AUTO,STRICT, where MKL "
            "rounds independently of memory alignment; give BLAS operands at the offsets "
            "ATen's own calls have (fresh, 64-byte aligned tensors), not views into a buffer"
        )
    if outcome == "fails":
        return (
            "operation order: the minimal example fails under MKL_CBWR=AUTO,STRICT too; the "
            "implementation computes something else, or in another order, than ATen"
        )
    last = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
    return f"not classified: the reproducer exited {run.returncode}: {last[0]}"


EXAMPLE_LINES = ("  config:", "  input:", "  device:")
"""Lines of a failure's message that the block's ``example:`` line already says."""


def verdict(counts: dict[str, int]) -> tuple[str, int]:
    """The verdict on a run's results by status (:data:`STATUSES`), and the exit status that
    goes with it."""
    if counts["fail"]:
        return "does not conform", NONCONFORMING
    if counts["not reached"]:
        return "conforms on what was reached (--max-time ran out)", INCOMPLETE
    listed = [
        words
        for words, count in (
            ("the expected failures", counts["xfail"] + counts["xpass"]),
            ("the skips", counts["skip"]),
        )
        if count
    ]
    if listed:
        return f"conforms on what ran here, except {' and '.join(listed)} listed above", CONFORMING
    return "conforms", CONFORMING


TIER_WORDS = {
    "numerics": ("computes what {ref} computes", "computes something else than {ref}"),
    "behaviour": ("behaves as {ref} as a module", "behaves otherwise than {ref} as a module"),
    "drop-in": ("can replace {ref}", "cannot replace {ref} yet"),
    "workflows": (
        "computes {ref}'s results compiled and exported",
        "fails compiled or exported",
    ),
}
"""Each tier's verdict, held and not held."""


def tier_verdicts(
    results: list[Result],
    tiers: tuple[str, ...],
    reference: str,
    selected: tuple[Any, ...] = (),
) -> list[str]:
    """One line per tier: its verdict and the properties that failed in it, or that it was
    not verified (and the option that verifies it); of the ``selected`` properties, those
    with no run at all on the devices and dtypes chosen are named (``gradcheck`` runs in
    float64 only), so that a verdict never hides them."""
    from rnn_impl.testing.devices import dtype_name
    from rnn_impl.testing.properties import BY_NAME
    from rnn_impl.testing.tiers import TIERS

    ran = {r.property for r in results}
    lines = []
    for tier in TIERS:
        mine = [r for r in results if BY_NAME[r.property].tier == tier]
        if tier not in tiers:
            lines.append(f"  {tier}: not verified (--tier {tier}, or --tier all)")
            continue
        failed = sorted({r.property for r in mine if r.status == "fail"})
        passed = sum(r.status == "pass" for r in mine)
        held, broken = (w.format(ref=reference) for w in TIER_WORDS[tier])
        absent: dict[str, list[str]] = {}
        for p in selected:
            if p.tier == tier and p.name not in ran:
                only = "/".join(dtype_name(t) for t in p.dtypes)
                absent.setdefault(only, []).append(p.name)
        groups = [f"{', '.join(names)} ({only} only)" for only, names in absent.items()]
        unrun = (
            f"; not run with the dtypes and devices chosen: {'; '.join(groups)}" if groups else ""
        )
        if failed:
            lines.append(f"  {tier}: {broken}: {', '.join(failed)}{unrun}")
        elif passed:
            lines.append(f"  {tier}: {held} ({passed} passed{unrun})")
        elif mine:
            lines.append(f"  {tier}: nothing of it ran here (see the skips above)")
        else:
            lines.append(f"  {tier}: no property of it selected, or none verifies {reference}")
    return lines


def summary(counts: dict[str, int]) -> str:
    """``"54 passed, 1 failed, 2 skipped"``: every status that occurred, and always the first
    three."""
    return ", ".join(
        f"{count} {STATUS_WORDS[name]}"
        for name, count in counts.items()
        if count or name in ("pass", "fail", "skip")
    )


def failure_block(result: Result) -> str:
    """One failure for a person: what failed and by how much, the example once, where the
    implementation departs from nn.RNN, what the failure needs, its cause and reproducer."""
    lines = [f"FAIL {result.property} on {result.device}/{result.dtype}"]
    lines += [
        f"  {line}" if not line.startswith("  ") else line
        for line in result.reason.splitlines()
        if not line.startswith(EXAMPLE_LINES)
    ]
    if result.counterexample:
        lines.append(f"  example: {result.counterexample}")
    for label, values in (("departs", result.departs), ("needs", result.suspects)):
        if values:
            lines.append(f"  {label}: " + f"\n  {' ' * len(label)}  ".join(values))
    if result.suspects:
        lines.append("  (the failure needs each of those: changed alone, it passes)")
    if result.cause:
        lines.append(f"  cause: {result.cause}")
    if result.reproducer:
        lines.append(f"  reproducer: python {result.reproducer}")
    return "\n".join(lines)
