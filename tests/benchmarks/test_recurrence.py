"""pytest-benchmark suite: nn.RNN, rnn_impl and the notebook-style loop.

``tox -e bench`` runs it without xdist and saves JSON; ``python -m tests.benchmarks.report``
turns that JSON into ``docs/benchmarks.md`` and the plot. Under ``pytest -n auto``
pytest-benchmark disables itself: every benchmark runs once as a plain test, so the suite
never rots, and the ratio checks skip (one call under a loaded machine measures nothing).

Groups: ``<shape>/<mode>/<dtype>`` (the three variants), ``techniques/<shape>/<mode>`` (the
fast path switched off piece by piece), ``scaling/<axis>`` (one-axis sweeps), ``gemm-peak``,
and ``ratio/<mode>/<threads>`` (nn.RNN and rnn_impl interleaved, checked against the targets).
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterator

import pytest
import torch

from tests.benchmarks.shapes import (
    GEMM_SIZE,
    SCALING,
    SCALING_BASE,
    SHAPES,
    SLACK,
    TARGETS,
    TECHNIQUES,
    VARIANTS,
    build,
    call,
    interleaved,
    warm_up,
)

MODES = ["forward", "forward-with-grad", "forward+backward"]
RATIO_MODES = ["forward", "forward+backward"]
ROUND_BUDGET_S = 3.0
"""Time one ratio check spends on interleaved rounds (at least :data:`MIN_ROUNDS`)."""
MIN_ROUNDS = 11


@contextlib.contextmanager
def threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` (None: leave the default)."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


SHAPE_CASES = [(s, m, torch.float32) for s in SHAPES for m in MODES]
SHAPE_CASES.append(("mid", "forward+backward", torch.float64))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "shape, mode, dtype", SHAPE_CASES, ids=[f"{s}-{m}-{str(d)[6:]}" for s, m, d in SHAPE_CASES]
)
def test_shape(benchmark, shape, mode, dtype, variant):
    benchmark.group = f"{shape}/{mode}/{str(dtype)[6:]}"
    benchmark.extra_info.update(shape=shape, mode=mode, variant=variant, dtype=str(dtype)[6:])
    assert benchmark(call(mode, build(variant, shape, dtype))) is not None


@pytest.mark.parametrize("variant", TECHNIQUES)
@pytest.mark.parametrize("mode", RATIO_MODES)
@pytest.mark.parametrize("shape", SHAPES)
def test_technique(benchmark, shape, mode, variant):
    benchmark.group = f"techniques/{shape}/{mode}"
    benchmark.extra_info.update(shape=shape, mode=mode, variant=variant)
    assert benchmark(call(mode, build(variant, shape))) is not None


SCALING_CASES = [(axis, value) for axis, values in SCALING.items() for value in values]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("axis, value", SCALING_CASES, ids=[f"{a}={v}" for a, v in SCALING_CASES])
def test_scaling(benchmark, axis, value, variant):
    shape = {**SCALING_BASE, axis: value}
    benchmark.group = f"scaling/{axis}"
    benchmark.extra_info.update(axis=axis, value=value, variant=variant, spec=shape)
    assert benchmark(call("forward+backward", build(variant, shape))) is not None


@pytest.mark.parametrize("count", [None, 1], ids=["default-threads", "1-thread"])
def test_gemm_peak(benchmark, count):
    """The machine's float32 GEMM rate, the floor the recurrence is compared with."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(GEMM_SIZE, GEMM_SIZE, generator=g) for _ in range(2))
    out = torch.empty(GEMM_SIZE, GEMM_SIZE)
    benchmark.group = "gemm-peak"
    with threads(count):
        benchmark.extra_info.update(flops=2.0 * GEMM_SIZE**3, threads=torch.get_num_threads())
        benchmark(torch.mm, a, b, out=out)


@pytest.mark.parametrize("count", [None, 1], ids=["default-threads", "1-thread"])
@pytest.mark.parametrize("mode", RATIO_MODES)
@pytest.mark.parametrize("shape", SHAPES)
def test_ratio(benchmark, shape, mode, count):
    """rnn_impl's median time over nn.RNN's, the two interleaved round by round; at torch's
    default threads it must stay within :data:`SLACK` of the target."""
    runs = {v: call(mode, build(v, shape)) for v in ("nn.RNN", "rnn_impl")}
    times: dict[str, list[float]] = {v: [] for v in runs}
    interleaved_round = interleaved(runs, times)

    if benchmark.disabled:
        interleaved_round()
        pytest.skip("ratio targets are checked in a benchmark run (tox -e bench)")
    with threads(count):
        label = "1-thread" if count == 1 else f"default-threads ({torch.get_num_threads()})"
        benchmark.group = f"ratio/{mode}/{label}"
        rounds = max(MIN_ROUNDS, int(ROUND_BUDGET_S / warm_up(interleaved_round, times)))
        benchmark.pedantic(interleaved_round, rounds=rounds)
    medians = {v: statistics.median(t) for v, t in times.items()}
    ratio = medians["rnn_impl"] / medians["nn.RNN"]
    target = TARGETS[shape][mode]
    benchmark.extra_info.update(
        shape=shape,
        mode=mode,
        threads=label,
        rounds=len(times["nn.RNN"]),
        median_s=medians,
        ratio=ratio,
        target=target,
    )
    if count is None:
        assert ratio <= target * (1 + SLACK), (
            f"{shape} {mode}: rnn_impl takes {ratio:.3f}x nn.RNN's time, target {target} "
            f"(+{SLACK:.0%} slack); medians {medians['rnn_impl'] * 1e3:.3f} ms vs "
            f"{medians['nn.RNN'] * 1e3:.3f} ms over {len(times['nn.RNN'])} rounds"
        )
