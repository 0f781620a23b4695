"""The implementation under test, built next to torch's module with identical weights.

A :class:`Subject` is what the suite verifies: a factory with the constructor of torch's
module (nn.RNN, nn.GRU, nn.LSTM or one of their cells; a class or a function) plus an
:class:`Adapter` that gives it the reference's weights and names its parameters the way torch
does. :func:`build_pair` makes the reference and the subject for one case without touching the
global RNG.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.cases import InputCase, RNNConfig, draw_weights, join_state
from rnn_impl.testing.environment import KINDS, subject_spec
from rnn_impl.testing.environment import adapter_spec as _adapter_spec
from rnn_impl.testing.exceptions import SubjectError


class Adapter:
    """Maps nn.RNN's weights onto an implementation. The default assumes nn.RNN's names.

    Subclass it for an implementation whose parameters are named or shaped differently.
    """

    def load(self, impl: nn.Module, reference: nn.Module) -> None:
        """Give ``impl`` the weights of ``reference`` (called under ``torch.no_grad``)."""
        impl.load_state_dict(reference.state_dict())

    def named_parameters(self, impl: nn.Module) -> dict[str, Tensor]:
        """``impl``'s parameters keyed by nn.RNN's names (``weight_ih_l0``, ...)."""
        return dict(impl.named_parameters())

    def to_reference(self, name: str, value: Tensor) -> Tensor:
        """The parameter ``name`` of :meth:`named_parameters` (or its gradient) in torch's
        layout: itself by default; the transpose for an implementation that stores
        ``weight_ih_l0`` as ``(input, 4 * hidden)``, as Keras does."""
        return value


FAMILY_OF = {
    "rnn": "rnn",
    "gru": "gru",
    "lstm": "lstm",
    "cell": "rnn",
    "gru_cell": "gru",
    "lstm_cell": "lstm",
}
"""The :attr:`RNNConfig.family <rnn_impl.testing.cases.RNNConfig.family>` of each kind."""

CELLS = ("cell", "gru_cell", "lstm_cell")


@dataclass(frozen=True)
class Subject:
    """An implementation under test: ``factory(**RNNConfig.kwargs(), device=, dtype=)``, or
    for a cell ``factory(*RNNConfig.cell_args(), device=, dtype=)``.

    ``kind`` is one of :data:`KINDS`: ``"rnn"``, ``"gru"``, ``"lstm"`` for a look-alike of
    nn.RNN, nn.GRU, nn.LSTM; ``"cell"``, ``"gru_cell"``, ``"lstm_cell"`` for one of
    nn.RNNCell, nn.GRUCell, nn.LSTMCell.
    """

    name: str
    factory: Callable[..., nn.Module]
    adapter: Adapter = field(default_factory=Adapter)
    kind: str = "rnn"

    @property
    def is_cell(self) -> bool:
        return self.kind in CELLS

    @property
    def imitates(self) -> str:
        """``"nn.LSTM"``, ``"nn.RNNCell"``, ...: the torch module this subject imitates."""
        return f"nn.{KINDS[self.kind]}"

    def own_arguments(self) -> dict[str, Any]:
        """Constructor arguments every configuration of this subject holds: its family, for
        the gated families (which have none) ``nonlinearity="tanh"``, and ``proj_size=0`` for
        all but nn.LSTM."""
        family = FAMILY_OF[self.kind]
        own: dict[str, Any] = {"family": family}
        if family != "rnn":
            own["nonlinearity"] = "tanh"
        if self.kind != "lstm":
            own["proj_size"] = 0
        return own

    def holding(self, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The constructor arguments ``fixed`` and :meth:`own_arguments`.

        Raises:
            SubjectError: ``fixed`` holds one of them at another value (a GRU's
                ``nonlinearity``, an RNN's ``proj_size``: ``family`` is not an argument users
                fix).
        """
        own = self.own_arguments()
        for name, value in (fixed or {}).items():
            if name in own and own[name] != value:
                raise SubjectError(
                    f"{self.name} is an {self.imitates} look-alike: it has no {name}"
                )
        return {**(fixed or {}), **own}

    def build(self, config: RNNConfig, device: Any, dtype: torch.dtype) -> nn.Module:
        if self.is_cell:
            return self.factory(*config.cell_args(), device=device, dtype=dtype)
        return self.factory(**config.kwargs(), device=device, dtype=dtype)


def in_torch_layout(adapter: Any, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``values`` keyed by parameter name (parameters, or their gradients) in torch's layout:
    through ``adapter.to_reference`` where the adapter has it (an adapter written before it
    existed, or duck-typed, keeps its values as they are). Other keys pass unchanged."""
    convert = getattr(adapter, "to_reference", None)
    if convert is None:
        return dict(values)
    return {
        name: convert(name, value) if name not in ("input", "h0", "hx") else value
        for name, value in values.items()
    }


def load_object(spec: str) -> Any:
    """Import ``"package.module:attr"`` (attr may be dotted)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SubjectError(f"expected 'module:attr', got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise SubjectError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SubjectError(f"{module_name!r} has no attribute {attr!r}") from None
    return obj


def load_subject(
    spec: str | None = None,
    adapter_spec: str | None = None,
    kind: str = "rnn",
    imitates: str | None = None,
) -> Subject:
    """The subject named by ``spec`` and its adapter, each else from the environment, else
    the default (:func:`~rnn_impl.testing.environment.subject_spec` for ``kind``,
    :func:`~rnn_impl.testing.environment.adapter_spec`). What it imitates (one of
    :data:`KINDS`) is ``imitates`` when given, else detected (:func:`kind_of`).

    Raises:
        SubjectError: either does not import, the subject is not callable, or the adapter
            has no ``load()`` and ``named_parameters()``.
    """
    spec = subject_spec(spec, kind)
    # $RNN_IMPL_ADAPTER belongs to the RNN under test, not to an RNNCell
    adapter_spec = adapter_spec if kind.endswith("cell") else _adapter_spec(adapter_spec)
    factory = load_object(spec)
    if not callable(factory):
        raise SubjectError(f"{spec} is not callable")
    adapter: Any = Adapter()
    if adapter_spec:
        adapter = load_object(adapter_spec)
        if isinstance(adapter, type):
            adapter = adapter()
        if not (hasattr(adapter, "load") and hasattr(adapter, "named_parameters")):
            raise SubjectError(f"{adapter_spec} has no load() and named_parameters()")
    return Subject(spec, factory, adapter, imitates or kind_of(factory))


_TORCH_KINDS = [
    (nn.LSTMCell, "lstm_cell"),
    (nn.GRUCell, "gru_cell"),
    (nn.RNNCellBase, "cell"),
    (nn.LSTM, "lstm"),
    (nn.GRU, "gru"),
]


def kind_of(factory: Any) -> str:
    """What ``factory`` builds (one of :data:`KINDS`): its ``rnn_verify_kind`` when it declares
    one (every rnn_impl drop-in but RNN does), else the kind of the torch class it subclasses
    (``"cell"`` for nn.RNNCell, ``"lstm"``, ``"gru"``, ``"lstm_cell"``, ``"gru_cell"``); else
    ``"rnn"``."""
    declared = getattr(factory, "rnn_verify_kind", None)
    if declared in KINDS:
        return str(declared)
    if isinstance(factory, type):
        for base, kind in _TORCH_KINDS:
            if issubclass(factory, base):
                return kind
    return "rnn"


@contextlib.contextmanager
def _native_aten() -> Iterator[None]:
    with warnings.catch_warnings():  # the flags' setter warns about TF32 on Intel GPUs
        warnings.simplefilter("ignore", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def reference_routes(config: RNNConfig, device: Any) -> dict[str, Callable[[], Any]]:
    """The ways torch's module of ``config`` may compute on ``device``, by name, each a
    context manager factory to run it under.

    nn.LSTM on the CPU hands float32 layers (bfloat16 and float16 where the CPU supports them)
    to oneDNN's fused kernel, whose rounding differs from ATen's native LSTM, which it runs
    for everything else (float64, ``proj_size``, batch 0, unequal packed lengths) and under
    ``torch.backends.mkldnn.flags(enabled=False)``. Both are nn.LSTM's behaviour, so an exact
    comparison accepts either (README, "The gated family"). Every other module has one route.
    """
    cpu = torch.device(device).type == "cpu"
    if config.family == "lstm" and cpu and torch.backends.mkldnn.is_available():
        return {"its default route (oneDNN)": contextlib.nullcontext, "native ATen": _native_aten}
    return {"": contextlib.nullcontext}


def error_route(config: RNNConfig) -> Any:
    """The context invalid calls are compared under: ATen's native route for nn.LSTM (on its
    oneDNN route some invalid packed states return normally, and a state of too few rows
    corrupts the process's memory; a float64 ``h0`` gets a message about oneDNN), else none."""
    return _native_aten() if config.family == "lstm" else contextlib.nullcontext()


@contextlib.contextmanager
def untouched_rng(device: torch.device | str) -> Iterator[None]:
    """Run a block without disturbing the global RNG of the CPU and of ``device``."""
    device = torch.device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


def build_pair(
    subject: Subject,
    config: RNNConfig,
    case: InputCase,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> tuple[Any, nn.Module]:
    """``(reference, subject)`` with the case's weights, global RNG untouched: the reference
    is torch's module of ``config.family`` (its cell for a cell subject).

    Raises:
        SubjectError: the subject cannot be built with the reference's constructor, or its
            adapter fails to load the weights.
    """
    with untouched_rng(device), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if subject.is_cell:
            reference: Any = config.cell_class()(*config.cell_args(), device=device, dtype=dtype)
        else:
            reference = config.reference_class()(**config.kwargs(), device=device, dtype=dtype)
        draw_weights(reference, case)
    return reference, build_from(subject, reference, config)


def build_from(
    subject: Subject, reference: nn.Module, config: RNNConfig | None = None
) -> nn.Module:
    """The subject with ``reference``'s configuration, device, dtype and weights."""
    first = next(reference.parameters())
    if config is None:
        family = "lstm" if isinstance(reference, nn.LSTM) else "rnn"
        family = "gru" if isinstance(reference, nn.GRU) else family
        fields = [name for name in RNNConfig.__dataclass_fields__ if hasattr(reference, name)]
        config = RNNConfig(**{name: getattr(reference, name) for name in fields}, family=family)
    with untouched_rng(first.device), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            impl = subject.build(config, first.device, first.dtype)
        except Exception as exc:
            raise SubjectError(
                f"{subject.name}({config}, device={first.device}, dtype={first.dtype}) failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    try:
        with torch.no_grad():
            subject.adapter.load(impl, reference)
    except Exception as exc:
        raise SubjectError(
            f"the adapter failed to load {config.torch_name}'s weights into {subject.name} built with "
            f"{config}: {type(exc).__name__}: {exc} (if it does not support that "
            f"configuration, narrow the run: --fix / --rnn-fix NAME=VALUE)"
        ) from exc
    return impl


def sub_reference(reference: nn.Module, config: RNNConfig, rename: dict[str, str]) -> nn.Module:
    """A torch module with ``config`` (its family's) whose parameter ``new`` is a copy of
    ``reference``'s ``old`` for each ``new: old`` in ``rename`` (for laws that split a model
    into parts)."""
    first = next(reference.parameters())
    with untouched_rng(first.device), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        part = config.reference_class()(**config.kwargs(), device=first.device, dtype=first.dtype)
    with torch.no_grad():
        for new, old in rename.items():
            getattr(part, new).copy_(getattr(reference, old))
    return part


def as_tensors(result: Any, config: RNNConfig) -> tuple[Tensor, Tensor]:
    """``(output, h_n)`` from a forward result; a packed output gives its ``data``, an LSTM's
    ``(h_n, c_n)`` is joined (:func:`~rnn_impl.testing.cases.join_state`).

    Raises:
        AssertionError: the result is not an ``(output, h_n)`` pair of tensors (for an LSTM,
            ``(output, (h_n, c_n))``).
    """
    state = config.state_name
    if not (isinstance(result, tuple) and len(result) == 2):
        got = type(result).__name__
        raise AssertionError(f"forward must return (output, {state}), got {got}")
    output, h_n = result
    if isinstance(output, PackedSequence):
        output = output.data
    if config.family == "lstm":
        if not (isinstance(h_n, tuple) and len(h_n) == 2):
            got = type(h_n).__name__
            raise AssertionError(f"forward must return (output, (h_n, c_n)), got a {got} state")
        for name, value in zip(("h_n", "c_n"), h_n):
            if not isinstance(value, Tensor):
                raise AssertionError(f"{name} must be a Tensor, got {type(value).__name__}")
        h, c = h_n  # their dtypes may differ (nn.LSTM's under autocast do): `shapes` checks
        if (h.shape[:-1], h.device) != (c.shape[:-1], c.device):
            raise AssertionError(
                f"h_n and c_n must agree but in their last dimension: h_n is "
                f"{tuple(h.shape)} on {h.device}, c_n {tuple(c.shape)} on {c.device}"
            )
        h_n = join_state(h_n)
    for name, value in (("output", output), ("h_n", h_n)):
        if not isinstance(value, Tensor):
            raise AssertionError(f"{name} must be a Tensor, got {type(value).__name__}")
    return output, h_n
