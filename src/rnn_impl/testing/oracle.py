"""The implementation under test, built next to ``torch.nn.RNN`` with identical weights.

A :class:`Subject` is what the suite verifies: a factory with nn.RNN's constructor (a class
or a function) plus an :class:`Adapter` that gives it nn.RNN's weights and names its
parameters the way nn.RNN does. :func:`build_pair` makes the reference and the subject for one
case without touching the global RNG.
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

from rnn_impl.testing.cases import InputCase, RNNConfig, draw_weights
from rnn_impl.testing.environment import adapter_spec as _adapter_spec
from rnn_impl.testing.environment import subject_spec
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


@dataclass(frozen=True)
class Subject:
    """An implementation under test: ``factory(**RNNConfig.kwargs(), device=, dtype=)``.

    ``kind`` is ``"cell"`` for an nn.RNNCell look-alike (built with ``input_size,
    hidden_size, bias, nonlinearity``), ``"gru"`` for an nn.GRU one, else ``"rnn"``.
    """

    name: str
    factory: Callable[..., nn.Module]
    adapter: Adapter = field(default_factory=Adapter)
    kind: str = "rnn"

    def own_arguments(self) -> dict[str, Any]:
        """Constructor arguments every configuration of this subject holds: its family (and
        for a GRU, which has none, ``nonlinearity="tanh"``); none for a cell."""
        if self.kind == "gru":
            return {"family": "gru", "nonlinearity": "tanh"}
        return {"family": "rnn"} if self.kind == "rnn" else {}

    def holding(self, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The constructor arguments ``fixed`` and :meth:`own_arguments`.

        Raises:
            SubjectError: ``fixed`` holds one of them at another value (a GRU's
                ``nonlinearity``: ``family`` is not an argument users fix).
        """
        own = self.own_arguments()
        for name, value in (fixed or {}).items():
            if name in own and own[name] != value:
                raise SubjectError(
                    f"{self.name} is an nn.{self.kind.upper()} look-alike: it has no {name}"
                )
        return {**(fixed or {}), **own}

    def build(self, config: RNNConfig, device: Any, dtype: torch.dtype) -> nn.Module:
        if self.kind == "cell":
            args = (config.input_size, config.hidden_size, config.bias, config.nonlinearity)
            return self.factory(*args, device=device, dtype=dtype)
        return self.factory(**config.kwargs(), device=device, dtype=dtype)


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
    spec: str | None = None, adapter_spec: str | None = None, kind: str = "rnn"
) -> Subject:
    """The subject named by ``spec`` and its adapter, each else from the environment, else
    the default (:func:`~rnn_impl.testing.environment.subject_spec` for ``kind``,
    :func:`~rnn_impl.testing.environment.adapter_spec`).

    Raises:
        SubjectError: either does not import, the subject is not callable, or the adapter
            has no ``load()`` and ``named_parameters()``.
    """
    spec = subject_spec(spec, kind)
    # $RNN_IMPL_ADAPTER belongs to the RNN under test, not to an RNNCell
    adapter_spec = _adapter_spec(adapter_spec) if kind == "rnn" else adapter_spec
    factory = load_object(spec)
    if not callable(factory):
        raise SubjectError(f"{spec} is not callable")
    family = kind_of(factory)
    if family in UNVERIFIED:
        raise SubjectError(
            f"{spec} is an nn.{UNVERIFIED[family]} look-alike: the suite verifies nn.RNN, "
            "nn.GRU and nn.RNNCell look-alikes only, so far"
        )
    adapter: Any = Adapter()
    if adapter_spec:
        adapter = load_object(adapter_spec)
        if isinstance(adapter, type):
            adapter = adapter()
        if not (hasattr(adapter, "load") and hasattr(adapter, "named_parameters")):
            raise SubjectError(f"{adapter_spec} has no load() and named_parameters()")
    return Subject(spec, factory, adapter, kind_of(factory))


UNVERIFIED = {"lstm": "LSTM", "lstm_cell": "LSTMCell", "gru_cell": "GRUCell"}
"""The kinds :func:`load_subject` refuses (the suite's properties are nn.RNN's), and the torch
module each imitates."""

_TORCH_KINDS = [
    (nn.LSTMCell, "lstm_cell"),
    (nn.GRUCell, "gru_cell"),
    (nn.RNNCellBase, "cell"),
    (nn.LSTM, "lstm"),
    (nn.GRU, "gru"),
]


def kind_of(factory: Any) -> str:
    """What ``factory`` builds: its ``rnn_verify_kind`` when it declares one (every rnn_impl
    drop-in but RNN does), else the kind of the torch class it subclasses (``"cell"`` for
    nn.RNNCell, ``"lstm"``, ``"gru"``, ``"lstm_cell"``, ``"gru_cell"``); else ``"rnn"``."""
    declared = getattr(factory, "rnn_verify_kind", None)
    if declared in ("rnn", "gru", "cell", *UNVERIFIED):
        return str(declared)
    if isinstance(factory, type):
        for base, kind in _TORCH_KINDS:
            if issubclass(factory, base):
                return kind
    return "rnn"


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
) -> tuple[nn.RNN, nn.Module]:
    """``(reference nn.RNN, subject)`` with the case's weights, global RNG untouched.

    Raises:
        SubjectError: the subject cannot be built with nn.RNN's constructor, or its adapter
            fails to load the weights.
    """
    with untouched_rng(device), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if subject.kind == "cell":
            args = (config.input_size, config.hidden_size, config.bias, config.nonlinearity)
            reference: Any = nn.RNNCell(*args, device=device, dtype=dtype)
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
        family = "gru" if isinstance(reference, nn.GRU) else "rnn"
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


def as_tensors(result: Any) -> tuple[Tensor, Tensor]:
    """``(output, h_n)`` from a forward result; a packed output gives its ``data``.

    Raises:
        AssertionError: the result is not an ``(output, h_n)`` pair of tensors.
    """
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError(f"forward must return (output, h_n), got {type(result).__name__}")
    output, h_n = result
    if isinstance(output, PackedSequence):
        output = output.data
    for name, value in (("output", output), ("h_n", h_n)):
        if not isinstance(value, Tensor):
            raise AssertionError(f"{name} must be a Tensor, got {type(value).__name__}")
    return output, h_n
