"""Every tolerance the suite uses, with its reason, and the comparisons that apply them.

Two ways to judge a result against torch's module:

* **exact** (CPU): bit for bit. A re-implementation that follows ATen's operation order
  reproduces torch's module bit for bit; anything else is a difference (of order, or of
  maths).
* **by the computation's own sensitivity** (:func:`judge`; every other dtype, device and
  property with a tolerance, the laws included): how far rounding alone may move a correct
  result on *this* example is measured (:mod:`rnn_impl.testing.sensitivity`: torch's
  equations again in float64, :data:`SAMPLES` times with every rounded operation perturbed by
  the tested dtype's unit roundoff), and the implementation's result, row by row, may be at
  most :data:`SAFETY` times that spread, plus its last rounding, from torch's result in
  float64 on the same rounded inputs and weights. No fixed tolerance, and no tolerance taken
  from torch's own error on the example, which may be lucky: near chaos a correct float32 RNN
  may land O(1) away from float64, and two correct orders as far from each other.

A result with torch's module's own bits in the tested dtype (on one of its routes) holds
without being judged (:func:`~rnn_impl.testing.properties._core.judge_results`): those bits are
what the verifier holds an implementation to, so no sensitivity is computed for it, and it is
counted as such, neither judged nor too ill-conditioned (tests/test_sensitivity.py judges
torch's own results by the rule instead, on every covering row).

Where float64 is the dtype under test, torch's float64 result has an error of the same order
as the implementation's; both are within the spread of the exact answer, so the distance
between them is within twice it, which :data:`SAFETY` covers (tests/test_sensitivity.py checks
the spread against a 50-digit computation, mpmath's, on small examples).

A row whose spread is so large that the allowed distance reaches half its values carries no
information at that precision: it is not judged (:data:`JUDGED`), and an example of which
fewer than half the rows can be judged is *too ill-conditioned to judge*, reported and counted
(never a failure, never a pass of that row); the strategies keep such examples rare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

ASSERT_CLOSE_DEFAULTS: dict[torch.dtype, tuple[float, float]] = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
}
"""``(rtol, atol)`` of ``torch.testing.assert_close`` (``torch/testing/_comparison.py``)."""

SAMPLES = 8
"""Perturbed runs per example (:mod:`rnn_impl.testing.sensitivity`): their root-mean-square
distance from the exact run estimates, per row of a result, how far rounding moves it. Eight
samples of a row of ``F`` features give a chi-square estimate with ``8 F`` degrees of freedom:
within a factor 2 of the true spread but in about 1 of 10^4 rows of one feature, far better
with more features."""

SAFETY = 8.0
"""How many times the spread a correct implementation may land from torch's float64 result.
The perturbations have the scale of a probabilistic *bound* on each rounding (Higham and
Mary), so a correct order lands within about one spread; a float64 result and torch's are two
such landings (a factor 2); the estimate of the spread may be low by a factor 2 on an unlucky
row; and the largest of thousands of rows a run compares is about 4 standard deviations out.
Measured on the foreign controls (correct implementations that sum in other orders,
docs/false-alarms.md): no row of theirs came within a factor 2 of it. A planted bug moves a
result by a share of its value, thousands of spreads on a well-conditioned example."""

JUDGED = 0.5
"""A row is judged when :data:`SAFETY` times its spread is at most this share of its values'
size: where the allowed distance reaches half the values, no answer of the right magnitude
could fail, and the row says nothing."""


ILL_CONDITIONED_CAP = 0.2
"""The largest share of a run's examples that may be too ill-conditioned to judge: the
strategies and covering sets keep below it in every dtype (tests/test_sensitivity.py on the
covering sets, docs/false-alarms.md on the draws), so that a pass rests on judged examples."""


def unit_roundoff(dtype: torch.dtype) -> float:
    """``u``: half the distance from 1 to the next number of ``dtype``."""
    return torch.finfo(dtype).eps / 2


HALF_DTYPES = (torch.float16, torch.bfloat16)


def accumulation_roundoff(dtype: torch.dtype, device: str) -> float:
    """``u`` of the sums inside a matrix product of ``dtype`` on ``device``. Torch's CPU
    kernels (GEMM, addmm, einsum, linear) accumulate float16 and bfloat16 in float32 and round
    the result once, so every implementation built on them does, whatever its order; a sum of
    ``n`` half-precision products in half precision would move a result by ``u sqrt(n)``
    times its terms (a quarter of the values at ``n = 128`` in bfloat16) and leave most
    examples unjudgeable. On CUDA, cuBLAS may reduce float16 in float16
    (``allow_fp16_reduced_precision_reduction``): there, and for float32 and float64, the
    sums are taken in ``dtype`` itself."""
    if device == "cpu" and dtype in HALF_DTYPES:
        return unit_roundoff(torch.float32)
    return unit_roundoff(dtype)


GRAD_RTOL_FLOAT64 = 1e-12
"""The drop-in's own contract (tests/test_gradients.py): rnn_impl.RNN's float64 gradients are
within this norm-wise relative distance of nn.RNN's (its hand-written backward sums the weight
gradients in another order)."""

GRADCHECK_EPS, GRADCHECK_ATOL, GRADCHECK_RTOL = 1e-6, 1e-5, 1e-3
"""``torch.autograd.gradcheck`` defaults (float64 finite differences), stated here so that a
change in torch does not silently change the suite."""


@dataclass(frozen=True)
class Difference:
    """Where and how much ``actual`` differs from ``expected``."""

    max_abs: float
    max_rel: float
    index: tuple[int, ...]
    eps_units: float

    def __str__(self) -> str:
        relative = (
            f"max rel error {self.max_rel:.3g}"
            if math.isfinite(self.max_rel)
            else "max rel error undefined (a division by 0, or a value that is not finite)"
        )
        return (
            f"max abs error {self.max_abs:.3g} at index {self.index} "
            f"({self.eps_units:.3g} eps), {relative}"
        )


def identical(actual: Tensor, expected: Tensor) -> bool:
    """Bit-exact equality of values, where NaN equals NaN (both sides overflowing alike in a
    low dtype is agreement, not a difference)."""
    if torch.equal(actual, expected):
        return True
    if actual.shape != expected.shape or not actual.is_floating_point():
        return False
    nan_a, nan_e = torch.isnan(actual), torch.isnan(expected)
    return torch.equal(nan_a, nan_e) and torch.equal(actual[~nan_a], expected[~nan_e])


def difference(actual: Tensor, expected: Tensor) -> Difference:
    """Max absolute / relative error and its index; ``eps_units`` is the largest error in
    units of actual's eps, scaled by the expected magnitude where that exceeds 1 (so about
    the number of ulps)."""
    if actual.numel() == 0 or actual.device.type == "meta":
        return Difference(0.0, 0.0, (), 0.0)
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    same = (a == e) | (torch.isnan(a) & torch.isnan(e))
    diff = torch.where(same, torch.zeros_like(a), (a - e).abs()).nan_to_num(nan=float("inf"))
    flat = int(diff.argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), diff.shape))
    max_abs = float(diff.max())
    # against a zero the relative error is undefined: inf, printed as such
    rel = torch.where(same, torch.zeros_like(diff), diff / e.abs())
    eps = torch.finfo(actual.dtype).eps if actual.is_floating_point() else 1.0
    ulps = float((diff / (eps * e.abs().clamp_min(1.0))).max())
    return Difference(max_abs, float(rel.max()), index, ulps)


def normwise_rel(actual: Tensor, expected: Tensor) -> float:
    """``||actual - expected|| / ||expected||`` in float64 on the CPU (0 when both are zero);
    the two may live on different devices."""
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    if identical(a, e):
        return 0.0
    num = float((a - e).norm())
    den = float(e.norm())
    if num == 0.0:
        return 0.0
    return num / den if den > 0 else float("inf")


@dataclass(frozen=True)
class Judgement:
    """How far a result is from torch's, row by row (a row: the last dimension at one index
    of the others), against what rounding allows there: ``normalised`` the largest distance
    over allowed among the judged rows (<= 1 holds), and the row where it is, with its
    distance, spread and allowed distance; ``judged`` of ``rows`` rows could be judged."""

    normalised: float
    rows: int
    judged: int
    where: tuple[int, ...] = ()
    distance: float = 0.0
    spread: float = 0.0
    allowed: float = 0.0

    @property
    def holds(self) -> bool:
        return self.normalised <= 1.0

    @property
    def conditioned(self) -> bool:
        """At least half its rows could be judged."""
        return 2 * self.judged >= self.rows

    def __str__(self) -> str:
        return (
            f"{self.normalised:.3g}x what rounding allows at row {self.where}: distance "
            f"{self.distance:.3g}, spread of correct orders {self.spread:.3g}, allowed "
            f"{self.allowed:.3g} ({self.judged} of {self.rows} rows judged)"
        )


def _judged_rows(
    center: Tensor, spread: Tensor, floor: Tensor, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """For rows of a result: which can be judged (finite and far from the dtype's overflow,
    and :data:`SAFETY` times the spread at most :data:`JUDGED` of the values' size, or all
    zero), and the distance each allows."""
    # a value the tested dtype cannot hold (beyond its largest finite number, with the
    # rounding allowed) overflows in every correct implementation: not judged
    c, s, f = center.nan_to_num(0.0), spread.nan_to_num(0.0), floor.nan_to_num(0.0)
    reach = c.abs() + SAFETY * s + f
    finite = torch.isfinite(center).all(1) & (reach.amax(1) < torch.finfo(dtype).max / 2)
    size, width = c.norm(dim=1), SAFETY * s.norm(dim=1)
    tiny = torch.finfo(dtype).tiny * math.sqrt(max(c.shape[1], 1))
    judged = finite & ((width <= JUDGED * size) | ((size == 0) & (width == 0)))
    return judged, width + f.norm(dim=1) + tiny


def departing(
    actual: Tensor, center: Tensor, spread: Tensor, floor: Tensor, dtype: torch.dtype
) -> Tensor:
    """Where ``actual`` departs from ``center`` by more than rounding allows, element by
    element, in the rows :func:`judge` judges (a boolean tensor of ``actual``'s shape)."""
    a, c, s, f = (_rows(t) for t in (actual, center, spread, floor))
    judged, _ = _judged_rows(c, s, f, dtype)
    tiny = torch.finfo(dtype).tiny
    beyond = (a - c.nan_to_num(0.0)).abs().nan_to_num(nan=math.inf) > SAFETY * s + f + tiny
    return (beyond & judged.unsqueeze(1)).reshape(actual.shape)


def _rows(t: Tensor) -> Tensor:
    """``t`` in float64 on the CPU as rows of its last dimension (one row for a scalar)."""
    t = t.detach().to("cpu", torch.float64)
    return t.reshape(1, -1) if t.dim() < 2 else t.reshape(-1, t.shape[-1])


def judge(
    actual: Tensor, center: Tensor, spread: Tensor, floor: Tensor, dtype: torch.dtype
) -> Judgement:
    """``actual`` against ``center`` (torch's float64 result), each row within :data:`SAFETY`
    times its ``spread`` plus its ``floor`` (norms over the row) and the smallest normal number
    of ``dtype`` per element (flushed denormals); rows whose allowed distance reaches
    :data:`JUDGED` of their values' size are not judged. Rows with a value that is not finite in
    torch's result, or that reaches half the dtype's largest number (where a correct
    implementation may overflow), are not judged either; elsewhere a value that is not finite
    is infinitely far."""
    a, c, s, f = (_rows(t) for t in (actual, center, spread, floor))
    judged, allowed = _judged_rows(c, s, f, dtype)
    c, s = c.nan_to_num(0.0), s.nan_to_num(0.0)
    distance = (a - c).nan_to_num(nan=math.inf).norm(dim=1)
    if not bool(judged.any()):
        return Judgement(0.0, c.shape[0], 0)
    ratio = torch.where(judged, distance / allowed, torch.zeros_like(distance))
    row = int(ratio.argmax())
    where = tuple(int(i) for i in torch.unravel_index(torch.tensor(row), actual.shape[:-1]))
    return Judgement(
        float(ratio[row]),
        c.shape[0],
        int(judged.sum()),
        where if actual.dim() >= 2 else (),
        float(distance[row]),
        float(s[row].norm()),
        float(allowed[row]),
    )
