"""API parity: constructor meaning, parameters, repr, initialisation, serialization, conversion."""

from __future__ import annotations

import copy
import io
import pickle
import warnings
from collections.abc import Callable

import torch
from torch import nn

from rnn_impl.testing.oracle import (
    Implementation,
    build_pair,
    in_torch_layout,
    rounded_on_load,
    stacked,
    untouched_rng,
)
from rnn_impl.testing.properties._core import assert_exact, fail, register
from rnn_impl.testing.properties.differential import compare_outputs, run
from rnn_impl.testing.strategies import Example

CPU_FLOAT32 = {"devices": ("cpu",), "dtypes": (torch.float32,)}


def _construct(factory: Callable[..., nn.Module], *args, **kwargs) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return factory(*args, **kwargs)


@register("positional_arguments", "api", "contract", "drop-in", **CPU_FLOAT32)
def positional_arguments(implementation: Implementation, example: Example) -> None:
    """Positional arguments mean what they mean for nn.RNN (sizes, layers, nonlinearity, ...)."""
    args = tuple(example.config.kwargs().values())
    with untouched_rng("cpu"):
        reference = _construct(example.config.kind.torch_class(), *args)
        impl = _construct(implementation.factory, *args)
    own = ["nonlinearity"] if example.config.kind.takes("nonlinearity") else []
    for attr in list(getattr(type(reference), "__constants__", [])) + own:
        if attr == "mode":
            continue
        expected, actual = getattr(reference, attr), getattr(impl, attr, "<missing>")
        if actual != expected or type(actual) is not type(expected):
            raise fail(
                example,
                f"positional call {example.config.kind.torch_name}{args}: {attr} is {actual!r}, "
                f"{example.config.kind.reference}'s {expected!r}",
            )


@register("parameters", "api", "contract", "drop-in", **CPU_FLOAT32)
def parameters(implementation: Implementation, example: Example) -> None:
    """state_dict keys, order and shapes, and all_weights, are nn.RNN's."""
    reference, impl = build_pair(implementation, example.config, example.case)
    expected = [(k, tuple(v.shape)) for k, v in reference.state_dict().items()]
    actual = [(k, tuple(v.shape)) for k, v in impl.state_dict().items()]
    if actual != expected:
        raise fail(
            example,
            f"state_dict differs from {example.config.kind.reference}'s",
            f"{example.config.kind.reference + ':':16}{expected}",
            f"implementation: {actual}",
        )
    all_weights = getattr(impl, "all_weights", None)
    if all_weights is None:
        raise fail(example, "the implementation has no all_weights")
    shapes = [[tuple(p.shape) for p in group] for group in all_weights]
    want = [[tuple(p.shape) for p in group] for group in reference.all_weights]
    if shapes != want:
        raise fail(
            example, f"all_weights shapes {shapes}, {example.config.kind.reference}'s {want}"
        )


@register("repr", "api", "contract", "drop-in", **CPU_FLOAT32)
def extra_repr(implementation: Implementation, example: Example) -> None:
    """extra_repr() (what repr shows inside the parentheses) is nn.RNN's."""
    reference, impl = build_pair(implementation, example.config, example.case)
    if impl.extra_repr() != reference.extra_repr():
        raise fail(
            example,
            f"extra_repr {impl.extra_repr()!r}, {example.config.kind.reference}'s "
            f"{reference.extra_repr()!r}",
        )


@register("initialisation", "api", "exact", "drop-in", devices=("cpu",))
def initialisation(implementation: Implementation, example: Example) -> None:
    """Under the same torch.manual_seed, parameters and the RNG state afterwards are nn.RNN's."""
    kwargs = {**example.config.kwargs(), "dtype": example.dtype}
    states = []
    modules = []
    with untouched_rng("cpu"):
        for factory in (example.config.kind.torch_class(), implementation.factory):
            torch.manual_seed(example.case.seed)
            modules.append(_construct(factory, **kwargs))
            states.append(torch.get_rng_state())
    reference, impl = modules
    given = implementation.adapter.named_parameters(impl)
    named = in_torch_layout(implementation.adapter, {n: stacked(v) for n, v in given.items()})
    for name, expected in reference.named_parameters():
        if name not in named:
            raise fail(example, f"parameter {name} is missing")
        assert_exact(example, f"initial {name}", named[name].detach(), expected.detach())
    if not torch.equal(*states):
        raise fail(
            example,
            f"construction consumed the global RNG differently from {example.config.kind.reference}",
        )


def _torch_save(module: nn.Module) -> nn.Module:
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


ROUND_TRIPS: dict[str, Callable[[nn.Module], nn.Module]] = {
    "copy.deepcopy": copy.deepcopy,
    "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    "torch.save/torch.load": _torch_save,
}


@register(
    "serialization",
    "api",
    "contract",
    "drop-in",
    devices=("cpu",),
    dtypes=(torch.float32, torch.float64),
)
def serialization(implementation: Implementation, example: Example) -> None:
    """deepcopy, pickle, torch.save and a weights_only state_dict round trip keep outputs."""
    _, impl = build_pair(implementation, example.config, example.case, example.dtype)
    with torch.no_grad():
        _, out, h_n = run(impl, example)
        for label, trip in ROUND_TRIPS.items():
            _, out2, h2 = run(trip(impl), example)
            assert_exact(example, f"output after {label}", out2, out)
            assert_exact(example, f"{example.config.kind.state_name} after {label}", h2, h_n)
        buffer = io.BytesIO()
        torch.save(impl.state_dict(), buffer)
        buffer.seek(0)
        fresh = _construct(implementation.factory, **example.config.kwargs(), dtype=example.dtype)
        fresh.load_state_dict(torch.load(buffer, weights_only=True))
        _, out3, h3 = run(fresh, example)
        assert_exact(example, "output after a weights_only state_dict round trip", out3, out)


@register(
    "conversion",
    "api",
    "tolerance",
    "behaviour",
    devices=("cpu",),
    dtypes=(torch.float64, torch.float16),
)
def conversion(implementation: Implementation, example: Example) -> None:
    """.to(dtype) / .double() convert like nn.RNN's and then compute like it."""
    reference, impl = build_pair(implementation, example.config, example.case)
    convert = (
        (lambda m: m.double())
        if example.dtype == torch.float64
        else (lambda m: m.to(example.dtype))
    )
    reference, impl = convert(reference), convert(impl)
    dtypes = {p.dtype for p in impl.parameters()}
    if dtypes != {example.dtype}:
        raise fail(example, f"after conversion the parameters are {dtypes}")
    if rounded_on_load(implementation.adapter, impl):  # loaded and rounded before conversion
        with torch.no_grad():
            implementation.adapter.load(impl, reference)
    compare_outputs(example, reference, impl)
