"""The comparisons and bounds every tolerance rests on."""

from __future__ import annotations

import math

import torch

from rnn_impl.testing import tolerances


def test_identical_counts_nan_as_equal_and_nothing_else():
    nan = float("nan")
    assert tolerances.identical(torch.tensor([1.0, nan]), torch.tensor([1.0, nan]))
    assert not tolerances.identical(torch.tensor([1.0, nan]), torch.tensor([1.0, 2.0]))
    assert not tolerances.identical(torch.tensor([0.0]), torch.tensor([-1e-30]))


def test_difference_finds_the_largest_error_in_units_of_eps():
    a = torch.tensor([1.0, 2.0, 4.0])
    e = a.clone()
    e[2] += 4 * torch.finfo(torch.float32).eps * 4
    found = tolerances.difference(a, e)
    assert found.index == (2,) and math.isclose(found.eps_units, 4.0, rel_tol=1e-3)


def test_normwise_relative_difference():
    assert tolerances.normwise_rel(torch.zeros(3), torch.zeros(3)) == 0.0
    assert tolerances.normwise_rel(torch.ones(2), torch.zeros(2)) == math.inf
    assert math.isclose(
        tolerances.normwise_rel(torch.tensor([1.1]), torch.tensor([1.0])), 0.1, rel_tol=1e-6
    )


def test_judge_allows_the_spread_times_the_safety_factor_row_by_row():
    center = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    spread = torch.full_like(center, 1e-6)
    floor = torch.zeros_like(center)
    inside = center + 0.9 * tolerances.SAFETY * 1e-6 / math.sqrt(2)
    assert tolerances.judge(inside, center, spread, floor, torch.float64).holds
    outside = center.clone()
    outside[1, 0] += 2 * tolerances.SAFETY * 1e-6
    found = tolerances.judge(outside, center, spread, floor, torch.float64)
    assert not found.holds and found.where == (1,) and found.judged == found.rows == 2


def test_a_row_whose_spread_reaches_its_values_is_not_judged():
    center = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    spread = torch.tensor([[1e-6, 1e-6], [1.0, 1.0]])
    wrong = center + torch.tensor([[0.0, 0.0], [5.0, 5.0]])
    found = tolerances.judge(wrong, center, spread, torch.zeros_like(center), torch.float64)
    assert found.holds and (found.judged, found.rows) == (1, 2) and found.conditioned
    mask = tolerances.departing(wrong, center, spread, torch.zeros_like(center), torch.float64)
    assert not mask.any()


def test_what_is_not_finite_in_torchs_result_is_not_judged_and_elsewhere_fails():
    center = torch.tensor([[float("inf"), 1.0], [1.0, 1.0]])
    zeros = torch.zeros_like(center)
    actual = torch.tensor([[float("nan"), 1.0], [1.0, 1.0]])
    assert tolerances.judge(actual, center, zeros, zeros, torch.float32).holds
    actual = torch.tensor([[1.0, 1.0], [float("nan"), 1.0]])
    assert not tolerances.judge(actual, center, zeros, zeros, torch.float32).holds
