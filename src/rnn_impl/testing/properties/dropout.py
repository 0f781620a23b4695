"""Dropout: identical masks and RNG use on CPU, determinism in eval, p = 0 and p = 1."""

from __future__ import annotations

import hypothesis.strategies as st
import torch

from rnn_impl.testing.oracle import Implementation, build_pair, untouched_rng
from rnn_impl.testing.properties._core import (
    ZERO,
    Measure,
    assert_exact,
    assert_exact_results,
    fail,
    on_routes,
    register,
)
from rnn_impl.testing.properties.differential import compare_outputs, run
from rnn_impl.testing.strategies import Example
from rnn_impl.testing.tolerances import identical

WITH_DROPOUT = {"num_layers": st.integers(2, 4), "dropout": st.sampled_from([0.2, 0.5, 0.9])}
DROPOUT_LEVELS = {"num_layers": (2, 4), "dropout": (0.2, 0.5, 0.9)}


def _rng_state(device: str) -> torch.Tensor:
    if device == "cuda":
        return torch.cuda.get_rng_state()
    return torch.get_rng_state()


@register(
    "dropout_masks_exact",
    "dropout",
    "exact",
    "drop-in",
    devices=("cpu",),
    dtypes=(torch.float32, torch.float64),
    config=WITH_DROPOUT,
    levels=DROPOUT_LEVELS,
)
def dropout_masks(implementation: Implementation, example: Example) -> Measure:
    """In training mode under the same seed: nn.RNN's masks, outputs and RNG state after."""
    reference, impl = build_pair(implementation, example.config, example.case, example.dtype)

    def seeded(module: torch.nn.Module) -> tuple[torch.Tensor, ...]:
        with untouched_rng("cpu"), torch.no_grad():
            torch.manual_seed(example.case.seed)
            _, output, h_n = run(module.train(), example)
            return output, h_n, torch.get_rng_state()

    runs = on_routes(example, lambda: seeded(impl), lambda: seeded(reference))
    labels = ("output with dropout", f"{example.config.kind.state_name} with dropout")
    assert_exact_results(example, labels, [(a[:2], e[:2]) for a, e in runs])
    matching = [(a, e) for a, e in runs if all(identical(x, y) for x, y in zip(a[:2], e[:2]))]
    if not any(torch.equal(a[2], e[2]) for a, e in matching):
        raise fail(
            example,
            f"the global RNG state after forward differs from {example.config.kind.reference}'s",
        )
    return ZERO


def _assert_no_rng_use(example: Example, impl, what: str):
    """Run ``impl`` on the example; it must not consume the RNG. Returns (output, h_n)."""
    with untouched_rng(example.device), torch.no_grad():
        before = _rng_state(example.device)
        _, output, h_n = run(impl, example)
        if not torch.equal(_rng_state(example.device), before):
            raise fail(example, f"{what} consumed the RNG")
    return output, h_n


@register(
    "dropout_eval", "dropout", "tolerance", "behaviour", config=WITH_DROPOUT, levels=DROPOUT_LEVELS
)
def dropout_eval(implementation: Implementation, example: Example) -> Measure:
    """In eval mode dropout is off: deterministic, no RNG consumed, nn.RNN's eval result."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    reference.eval()
    impl.eval()
    out1, h1 = _assert_no_rng_use(example, impl, "eval-mode forward")
    out2, h2 = _assert_no_rng_use(example, impl, "a second eval-mode forward")
    assert_exact(example, "second eval output", out2, out1)
    assert_exact(example, f"second eval {example.config.kind.state_name}", h2, h1)
    return compare_outputs(example, reference, impl)


@register(
    "dropout_extremes",
    "dropout",
    "tolerance",
    "behaviour",
    config={"num_layers": st.integers(2, 4), "dropout": st.sampled_from([0.0, 1.0])},
    levels={"num_layers": (2, 4), "dropout": (0.0, 1.0)},
)
def dropout_extremes(implementation: Implementation, example: Example) -> Measure:
    """p = 0 and p = 1 in training mode: no RNG used, and nn.RNN's results on every device."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    reference.train()
    impl.train()
    _assert_no_rng_use(example, impl, f"dropout={example.config.dropout} in training mode")
    return compare_outputs(example, reference, impl)
