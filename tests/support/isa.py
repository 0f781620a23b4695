"""Run the bit-exactness tests under every BLAS / ISA mode that changes the path on this machine.

``python -m tests.support.isa [pytest args]`` (``tox -e isa``, part of the CI gate) runs
:data:`TESTS` (the alignment pin, the exact-parity grids of RNN and of the gated family) once
per mode, each in its own run with one environment variable set: the machine's default mode in
one process with torch's own threads, every other across the cores (xdist, a thread each).
Some settings silently fall back to another mode (``MKL_CBWR=AVX2`` on an AMD CPU reports
``CNR:AUTO``), so each mode is first probed: the ``CNR:`` mode MKL reports under
``MKL_VERBOSE=1``, the ISA ATen dispatches to, and a fingerprint of GEMM and ``tanh`` results
at misaligned offsets. A mode whose three equal those of a mode already run is reported as a
fallback and not run again. Exits non-zero when any mode fails, or when a probe fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

TESTS = [
    "tests/test_alignment.py",
    "tests/test_gated.py::test_forward_is_bit_exact",
    "tests/test_gated.py::test_gradients_are_bit_exact",
    "tests/test_gated.py::test_cells_are_bit_exact_with_gradients",
]
"""What each mode runs: RNN's alignment pin and exact-parity grid, and the gated family's
bit-exact forward and gradient grids."""

MODES: list[tuple[str, str | None]] = [
    ("MKL_CBWR", None),
    ("MKL_CBWR", "AUTO,STRICT"),
    ("MKL_CBWR", "COMPATIBLE"),
    ("MKL_CBWR", "AVX2"),
    ("MKL_ENABLE_INSTRUCTIONS", "SSE4_2"),
    ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
    ("ATEN_CPU_CAPABILITY", "default"),
    ("ATEN_CPU_CAPABILITY", "avx2"),
]
"""``(variable, value)``, each tried on its own; None: the machine's default (nothing set)."""

VARIABLES = sorted({name for name, _ in MODES} | {"MKL_VERBOSE"})


def probe() -> dict[str, str]:
    """In the mode's process: what runs, and a fingerprint of what it computes."""
    import torch

    digest = hashlib.sha256()
    generator = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        for batch in range(1, 10):
            for hidden in (3, 5, 7, 13, 32, 37):
                w = torch.randn(hidden, hidden, generator=generator, dtype=dtype)
                b = torch.randn(hidden, generator=generator, dtype=dtype)
                memory = torch.randn(batch * hidden + 8, generator=generator, dtype=dtype)
                for offset in range(4):
                    h = memory[offset : offset + batch * hidden].view(batch, hidden)
                    for result in (torch.addmm(b, h, w.t()), torch.mm(h, w), torch.tanh(h)):
                        digest.update(result.numpy().tobytes())
    return {"capability": torch.backends.cpu.get_cpu_capability(), "results": digest.hexdigest()}


def describe(name: str, value: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """``(environment, probe)`` of one mode; the probe adds ``cnr``, the mode MKL reports."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    if value is not None:
        env[name] = value
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.isa", "--probe"],
        env={**env, "MKL_VERBOSE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(run.stdout.strip().splitlines()[-1])
    modes = set(re.findall(r"CNR:(\S+)", run.stdout + run.stderr))
    found["cnr"] = ",".join(sorted(modes)) or "none reported (no MKL GEMM?)"
    return env, found


def main(args: list[str]) -> int:
    seen: dict[tuple[str, ...], str] = {}
    failed: list[str] = []
    for name, value in MODES:
        label = f"{name}={value}" if value is not None else "default (no BLAS / ISA variable)"
        env, found = describe(name, value)
        key = (found["cnr"], found["capability"], found["results"])
        shown = f"CNR:{found['cnr']}, ATen {found['capability']}, results {found['results'][:12]}"
        if key in seen:
            print(f"isa: {label}: {shown}: same as {seen[key]}, not run again", flush=True)
            continue
        seen[key] = label
        # the machine's own mode in one process with torch's threads, as a user runs it (the
        # torch legs run these tests one thread per xdist worker); the others across the cores
        spread = ["-p", "no:xdist"] if value is None else ["-n", "auto"]
        print(f"isa: {label}: {shown}: running", flush=True)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *spread]
        status = subprocess.run([*command, *TESTS, *args], env=env).returncode
        if status != 0:
            failed.append(label)
    print(
        f"isa: {len(seen)} distinct modes run, {len(failed)} failed"
        + (f": {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--probe"]:
        print(json.dumps(probe()))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
