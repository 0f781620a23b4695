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


def test_the_bounds_grow_with_the_terms_and_give_up_on_overflow():
    assert tolerances.rounding_floor(10, torch.float32) == 10 * torch.finfo(torch.float32).eps / 2
    assert tolerances.step_floor(100, 2.0, torch.float16) == 10 * torch.finfo(torch.float16).eps
    assert tolerances.oracle_bound(math.inf, torch.float32) == math.inf
