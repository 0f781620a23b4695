"""Every tolerance the suite uses, with its reason, and the comparisons that apply them.

Three comparison modes:

* **exact** (CPU): ``torch.equal``. A re-implementation that follows ATen's operation order
  reproduces nn.RNN bit for bit; anything else is a real difference.
* **close** (float64): ``torch.testing.assert_close``'s float64 defaults.
* **oracle** (float32 / float16 / bfloat16, and any non-CPU device): both nn.RNN and the
  implementation run in the low dtype and are judged against nn.RNN in float64 on the same
  inputs. The implementation's error may be at most :data:`ORACLE_ERROR_FACTOR` times
  nn.RNN's own error, plus the dtype's ``atol``. This stays meaningful when weights are large
  (where a correct float32 RNN may drift far from float64) without widening a fixed tolerance.
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

ORACLE_ERROR_FACTOR = 4.0
"""How much larger than nn.RNN's own error (against float64) the implementation's may be.
Different but valid summation orders give errors of the same order; 4 leaves room for that
and still catches a real mistake, whose error is O(1) rather than O(eps)."""

ORACLE_ATOL: dict[torch.dtype, float] = {
    torch.float16: 1e-3,
    torch.bfloat16: 8e-3,
    torch.float32: 1e-6,
    torch.float64: 1e-12,
}
"""Absolute slack on top of the factor: about one ulp of a value near 1 in each dtype, so
that a reference error of exactly 0 (a lucky rounding) does not demand perfection."""

GRAD_RTOL_FLOAT64 = 1e-12
"""Float64 gradients: norm-wise relative difference to nn.RNN's (the drop-in contract), or
:data:`ORACLE_ERROR_FACTOR` times :func:`rounding_floor`, whichever is larger."""

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


def same_gradient(name: str) -> str | None:
    """The parameter whose gradient equals ``name``'s in exact arithmetic, if any.

    ``d/dbias_ih_lK`` and ``d/dbias_hh_lK`` are both the sum of the pre-activation gradients
    over steps and batch; nn.RNN sums them two ways (once over the whole projection, once step
    by step), and the two round differently, by up to several times. nn.RNN's own error for
    that one quantity is the larger of the two: judging against the smaller would demand that
    an implementation reproduce nn.RNN's summation order, not its accuracy.
    """
    for own, other in (("bias_ih_", "bias_hh_"), ("bias_hh_", "bias_ih_")):
        if name.startswith(own):
            return other + name[len(own) :]
    return None


def summed_terms(name: str, seq_len: int, batch: int, hidden_size: int) -> int:
    """How many rounded terms one element of the gradient ``d/d<name>`` accumulates, at most.

    A weight or bias gradient sums one term per step and batch row (``T * B``); the input and
    h0 gradients carry the backward recurrence, ``H`` products per step over ``T`` steps
    (``T * H``).
    """
    if name in ("input", "h0"):
        return max(seq_len * hidden_size, 1)
    return max(seq_len * batch, 1)


def rounding_floor(terms: int, dtype: torch.dtype) -> float:
    """The first-order bound on the relative rounding error of a sum of ``terms`` terms,
    ``terms * u`` (``u`` the unit roundoff, half of eps; Higham, *Accuracy and Stability of
    Numerical Algorithms*, sec. 4.2). nn.RNN's own error on one example can be far below it by
    luck (a weight gradient of ``hidden_size=1`` summed over 50 terms was, and rejected a
    correct implementation); the gradient bound never goes below this floor."""
    return terms * torch.finfo(dtype).eps / 2


def step_floor(terms: int, magnitude: float, dtype: torch.dtype) -> float:
    """The rounding error one step's sum of ``terms`` products may carry in a value of
    ``magnitude``: ``sqrt(terms) * u * magnitude``, the probabilistic bound of Higham and Mary
    (*A New Approach to Probabilistic Rounding Error Analysis*, 2019), which holds with high
    probability for any summation order. The output bound never goes below it: nn.RNN's own
    error on one example can be lucky (a correct float32 RNN summing ``x W_ih^T + h W_hh^T +
    b`` in another order, 1.9 ulp from float64 against nn.RNN's 1.3, was once rejected)."""
    return math.sqrt(terms) * torch.finfo(dtype).eps / 2 * magnitude


def oracle_bound(reference_error: float, dtype: torch.dtype) -> float:
    """The largest error against the float64 oracle an implementation may have (unbounded when
    nn.RNN's own result is not finite: the dtype has overflowed and there is nothing to judge)."""
    if not math.isfinite(reference_error):
        return math.inf
    return ORACLE_ERROR_FACTOR * reference_error + ORACLE_ATOL[dtype]
