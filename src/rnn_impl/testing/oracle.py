"""The implementation under test, built next to torch's module with identical weights.

A :class:`Implementation` is what the suite verifies: a factory with the constructor of torch's
module (nn.RNN, nn.GRU, nn.LSTM or one of their cells; a class or a function) plus an
:class:`Adapter` that gives it the reference's weights and names its parameters the way torch
does. :func:`build_pair` makes the reference and the implementation for one case without touching the
global RNG.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.binding import Binding, bind
from rnn_impl.testing.cases import InputCase, ModuleConfig, draw_weights, join_state
from rnn_impl.testing.environment import adapter_spec as _adapter_spec
from rnn_impl.testing.environment import implementation_spec
from rnn_impl.testing.exceptions import ImplementationError
from rnn_impl.testing.kinds import KINDS, MODULE_ARGUMENTS, RNN, Kind, declared
from rnn_impl.testing.mapping import (
    GATE_WORDS,
    MappingError,
    Plan,
    gate_order,
    map_parameters,
    source_parts,
)

Named = Tensor | Sequence[Tensor]
"""What an adapter names a torch parameter by: one of the implementation's tensors, or the
pieces (one per gate) that torch's parameter stacks along rows."""


def pieces(value: Named) -> list[Tensor]:
    """The implementation's tensors an adapter names one torch parameter by."""
    return [value] if isinstance(value, Tensor) else list(value)


def stacked(value: Named) -> Tensor:
    """One torch parameter from what an adapter names it by: its pieces stacked along rows."""
    return value if isinstance(value, Tensor) else torch.cat(list(value), 0)


def grads_by_name(output: Tensor, named: Mapping[str, Named]) -> dict[str, Tensor]:
    """The gradient of the scalar ``output`` with respect to each named value (of a value in
    pieces, theirs stacked along rows); zero for one that ``output`` does not depend on."""
    parts = {name: pieces(value) for name, value in named.items()}
    found = iter(
        torch.autograd.grad(output, [t for ts in parts.values() for t in ts], allow_unused=True)
    )
    grads = {}
    for name, value in named.items():
        got = [g if g is not None else torch.zeros_like(t) for t, g in zip(parts[name], found)]
        grads[name] = got[0] if isinstance(value, Tensor) else stacked(got)
    return grads


class Adapter:
    """Gives an implementation the weights of torch's module, and names its parameters the
    way torch does. The default assumes torch's names (``weight_ih_l0``, ...) and layout.

    Subclass it for an implementation whose parameters are named or shaped differently::

        class MyAdapter(Adapter):
            def load(self, impl, reference):
                impl.cell.w_x.copy_(reference.weight_ih_l0)
                ...

            def named_parameters(self, impl):
                return {"weight_ih_l0": impl.cell.w_x, ...}

    ``named_parameters`` gives the tensors forward uses (gradients are taken with respect to
    them): for a torch parameter the implementation keeps in pieces (one matrix per gate),
    the list of them in torch's order (a GRU's ``r, z, n``, an LSTM's ``i, f, g, o``), which
    torch stacks along rows.

    ``gate_order`` (``rnn-verify --gate-order``): the order in which the implementation stacks
    a gated module's blocks along the rows of its weights and biases, as indices of torch's
    (``(0, 1, 3, 2)``: an LSTM stacked ``i, f, o, g``); the default loads them so and
    :meth:`to_reference` reads them back in torch's order.
    """

    def __init__(self, gate_order: tuple[int, ...] | None = None) -> None:
        self.gate_order = gate_order

    def load(self, impl: nn.Module, reference: nn.Module) -> None:
        """Give ``impl`` the weights of ``reference`` (called under ``torch.no_grad``): by
        torch's names, or where its names differ by the plan
        :func:`~rnn_impl.testing.mapping.map_parameters` finds from names and shapes."""
        plan = self.plan(impl, reference)
        source = dict(reference.named_parameters())
        if plan is None:
            order = getattr(self, "gate_order", None)
            if order is None:
                impl.load_state_dict(reference.state_dict())
                return
            plan = {name: (name,) for name in source}
        _PLANS[impl] = plan
        if getattr(self, "gate_order", None) is not None and by_gate_names(impl):
            name, sources = next(iter(plan.items()))
            raise MappingError(
                "--gate-order: its parameters get torch's gate blocks by the gates their names "
                f"give ({name} <- {sources[0]}, ...); leave --gate-order out"
            )
        theirs = dict(impl.named_parameters())
        for name, sources in plan.items():
            values = [_block(source, s) for s in sources]
            value = sum(values[1:], values[0])
            if source_parts(sources[0])[1] is None:
                value = self._blocks(sources[0], value, inverse=False)
            theirs[name].copy_(value)

    def named_parameters(self, impl: nn.Module) -> Mapping[str, Named]:
        """``impl``'s parameters keyed by torch's names (``weight_ih_l0``, ...); a joined
        bias under both of its names (its gradient is either bias's); a parameter kept in
        pieces as the list of them, stacked along rows in torch's order."""
        plan = plan_of(impl)
        theirs: dict[str, Tensor] = dict(impl.named_parameters())
        if plan is None:
            return theirs
        named: dict[str, Named] = {}
        gated: dict[str, dict[str, Tensor]] = {}
        for name, sources in plan.items():
            for torch_name, gate in map(source_parts, sources):
                if gate is None:
                    named[torch_name] = theirs[name]
                else:
                    gated.setdefault(torch_name, {})[gate] = theirs[name]
        for torch_name, blocks in gated.items():
            named[torch_name] = [blocks[g] for g in gate_order(blocks)]
        return named

    def plan(self, impl: nn.Module, reference: nn.Module) -> Plan | None:
        """How :meth:`load` maps ``reference``'s parameters onto ``impl``'s (None: by torch's
        names, which ``impl`` has): found from names and shapes; an adapter written by
        ``rnn-verify --write-adapter`` states it instead.

        Raises:
            MappingError: its names differ and no plan follows from names and shapes.
        """
        theirs = {n: tuple(p.shape) for n, p in impl.named_parameters()}
        torch_shapes = {n: tuple(p.shape) for n, p in reference.named_parameters()}
        if theirs.keys() == torch_shapes.keys():
            return None
        return map_parameters(theirs, torch_shapes, gru=isinstance(reference, (nn.GRU, nn.GRUCell)))

    def to_reference(self, name: str, value: Tensor) -> Tensor:
        """The parameter ``name`` of :meth:`named_parameters` (or its gradient) in torch's
        layout: itself by default (its gate blocks back in torch's order with a
        ``gate_order``); the transpose for an implementation that stores ``weight_ih_l0`` as
        ``(input, 4 * hidden)``, as Keras does."""
        return self._blocks(name, value, inverse=True)

    def _blocks(self, torch_name: str, value: Tensor, inverse: bool) -> Tensor:
        """``value`` of torch's parameter ``torch_name`` with its gate blocks in the
        implementation's order (``inverse``: back in torch's)."""
        order = getattr(self, "gate_order", None)
        if order is None or not torch_name.startswith(_GATED_ROLES):
            return value
        if inverse:
            order = tuple(sorted(range(len(order)), key=order.__getitem__))
        blocks = value.chunk(len(order), 0)
        return torch.cat([blocks[k] for k in order], 0)


def _block(parameters: Mapping[str, Tensor], source: str) -> Tensor:
    """A plan's source among torch's ``parameters``: one, or one gate block of it."""
    name, gate = source_parts(source)
    if gate is None:
        return parameters[name]
    (order,) = [gates for gates in GATE_WORDS if gate in gates]  # GRU's and LSTM's differ
    return parameters[name].chunk(len(order), 0)[order.index(gate)]


_GATED_ROLES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
"""torch's parameters whose rows stack the gate blocks (weight_hr does not)."""

_PLANS: weakref.WeakKeyDictionary[nn.Module, Plan] = weakref.WeakKeyDictionary()
"""The plan each module built under the default :class:`Adapter` was loaded by."""


def plan_of(impl: nn.Module) -> Plan | None:
    """The plan :meth:`Adapter.load` loaded ``impl`` by (None: by torch's names, or an
    adapter with a load of its own)."""
    return _PLANS.get(impl)


def by_gate_names(impl: nn.Module) -> bool:
    """``impl`` was loaded by a plan that gives it torch's gate blocks by the gates its
    parameters' names give (``x_r.0.weight <- weight_ih_l0[r]``)."""
    return any(
        source_parts(s)[1] is not None
        for sources in (plan_of(impl) or {}).values()
        for s in sources
    )


def rounded_on_load(adapter: Adapter, impl: nn.Module) -> bool:
    """``impl``'s parameters may be computed from torch's, not copied (a sum, one bias for
    ``b_ih + b_hh``): rounded in its dtype, so converted to a wider one they are not torch's
    converted weights. True where the default :class:`Adapter`'s plan joins parameters, and
    for an adapter with a ``load`` of its own (what it computes is not known)."""
    if type(adapter).load is not Adapter.load:
        return True
    return any(len(sources) > 1 for sources in (plan_of(impl) or {}).values())


@dataclass(frozen=True)
class Implementation:
    """The implementation under test: its ``name`` (``module:attr``), the ``factory`` that
    builds it with the constructor of torch's module of its ``kind`` (bound by
    :attr:`binding`, a cell's too; a class or a function), and the :class:`Adapter` that
    gives it torch's weights.

    Example::

        >>> import rnn_impl
        >>> from rnn_impl.testing.kinds import KINDS
        >>> implementation = Implementation("rnn_impl:GRU", rnn_impl.GRU, kind=KINDS["gru"])
        >>> implementation.fixed_arguments({"num_layers": 2})
        {'num_layers': 2, 'nonlinearity': 'tanh', 'proj_size': 0, 'family': 'gru'}
    """

    name: str
    factory: Callable[..., nn.Module]
    adapter: Adapter = field(default_factory=Adapter)
    kind: Kind = RNN
    adapter_name: str | None = None
    """The adapter's ``module:attr`` (None: the default :class:`Adapter`)."""
    binding: Binding = field(default_factory=Binding)
    """How torch's constructor arguments reach ``factory`` (:mod:`~rnn_impl.testing.binding`)."""
    takes_state: bool = True
    """Its forward takes an initial state (``forward(input, h0)``); False for one that takes
    the input alone (``forward(x)``, as probing finds it): every example runs without h0."""
    arguments: dict[str, str] | None = None
    """The aliases it was loaded with (``--arg``: torch's argument -> the factory's parameter)."""
    gate_order: str | None = None
    """The gate letters it was loaded with (``--gate-order``), read by the default adapter."""

    @property
    def is_cell(self) -> bool:
        return self.kind.is_cell

    @property
    def claims_drop_in(self) -> bool:
        """It is torch's module or rnn_impl's drop-in, or subclasses one: it claims the whole
        of torch's API, not only its results."""
        import rnn_impl

        bases = (self.kind.torch_class(), getattr(rnn_impl, self.kind.torch_name))
        return isinstance(self.factory, type) and issubclass(self.factory, bases)

    def implied_arguments(self) -> dict[str, Any]:
        """What every configuration of this implementation holds: its ``family``, and each
        constructor argument its kind does not take at its default (a GRU's
        ``nonlinearity="tanh"``, ``proj_size=0`` for all but nn.LSTM, one layer for a cell)."""
        defaults = {
            name: ModuleConfig.__dataclass_fields__[name].default for name in MODULE_ARGUMENTS
        }
        implied = {name: value for name, value in defaults.items() if not self.kind.takes(name)}
        return {**implied, **self.binding.held, "family": self.kind.family}

    def holding(self, fixed: Mapping[str, Any]) -> Implementation:
        """This implementation, holding each argument it does not take (:attr:`binding`'s
        ``held``) at its value in ``fixed``: ``--fix batch_first=true`` declares a class that
        takes no ``batch_first`` and reads its input batch-first."""
        declared = {name: fixed[name] for name in self.binding.held if name in fixed}
        if not declared:
            return self
        binding = dataclasses.replace(self.binding, held={**self.binding.held, **declared})
        return dataclasses.replace(self, binding=binding)

    def fixed_arguments(self, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The constructor arguments ``fixed`` and the :meth:`implied_arguments`.

        Raises:
            ImplementationError: ``fixed`` holds an argument its kind does not take at another
                value (a GRU's ``nonlinearity``, an RNN's ``proj_size``).
        """
        implied = self.implied_arguments()
        for name, value in (fixed or {}).items():
            if name in self.binding.held and implied[name] != value:
                raise ImplementationError(
                    f"{self.name} takes no {name}: it is held at {implied[name]!r} "
                    f"(bind it with --arg {name}=PARAMETER)"
                )
            if name in implied and implied[name] != value:
                raise ImplementationError(
                    f"{self.name} is an {self.kind.reference} look-alike: it has no {name}"
                )
        return {**(fixed or {}), **implied}

    def plain_config(self, fixed: Mapping[str, Any] | None = None) -> ModuleConfig:
        """A small configuration with ``fixed`` and the :meth:`implied_arguments` (input 3,
        hidden 4, or room for a fixed ``proj_size`` as the strategies make it), to build it
        once before any run."""
        held = self.fixed_arguments(fixed)
        hidden = max(4, held.get("proj_size", 0) + 1)
        return dataclasses.replace(ModuleConfig(3, hidden), **held)

    def build(self, config: ModuleConfig, device: Any, dtype: torch.dtype) -> nn.Module:
        if self.is_cell:
            arguments = dict(zip(self.kind.arguments, config.cell_args()))
        else:
            arguments = config.kwargs()
        return self.binding.call(self.factory, arguments, {"device": device, "dtype": dtype})


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
        raise ImplementationError(f"expected 'module:attr', got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ImplementationError(
            f"cannot import {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImplementationError(f"{module_name!r} has no attribute {attr!r}") from None
    return obj


def load_implementation(
    spec: str | None = None,
    adapter: str | None = None,
    kind: Kind | None = None,
    cell: bool = False,
    arguments: Mapping[str, str] | None = None,
    gate_order: str | None = None,
) -> Implementation:
    """The implementation named by ``spec`` (``module:attr``) with the adapter named by
    ``adapter``, each else from the environment, else the default: rnn_impl's drop-in of
    ``kind``, else of nn.RNNCell with ``cell``, else of nn.RNN
    (:func:`~rnn_impl.testing.environment.implementation_spec`,
    :func:`~rnn_impl.testing.environment.adapter_spec`). Its kind is ``kind`` when given,
    else detected (:func:`~rnn_impl.testing.kinds.detect`). A recurrent module's constructor
    is bound to torch's arguments (:func:`~rnn_impl.testing.binding.bind`, ``arguments``
    naming more: ``{"num_layers": "layers_size"}``). ``gate_order`` (a gated kind's gate
    letters in the order the implementation stacks them: ``"ifog"``) goes to the default
    adapter.

    Raises:
        ImplementationError: either does not import, the implementation is not callable,
            the adapter has no ``load()`` and ``named_parameters()``, or ``gate_order`` is
            not an order of the kind's gates (or comes with an adapter of the user's).

    Example::

        >>> load_implementation("torch.nn:LSTMCell").kind.reference
        'nn.LSTMCell'
    """
    default = kind or (RNN.cell if cell else RNN)
    spec = implementation_spec(spec, default)
    # $RNN_IMPL_ADAPTER belongs to the recurrent module under test, not to a cell
    adapter = adapter if default.is_cell else _adapter_spec(adapter)
    factory = load_object(spec)
    if not callable(factory):
        raise ImplementationError(f"{spec} is not callable")
    loaded: Any = Adapter()
    if adapter:
        loaded = load_object(adapter)
        if isinstance(loaded, type):
            try:
                loaded = loaded()
            except Exception as exc:
                raise ImplementationError(
                    f"cannot build the adapter {adapter}(): {type(exc).__name__}: {exc}"
                ) from None
        if not (hasattr(loaded, "load") and hasattr(loaded, "named_parameters")):
            raise ImplementationError(f"{adapter} has no load() and named_parameters()")
    says = declared(factory)
    if kind is not None and says is not None and says is not kind:
        raise ImplementationError(
            f"{spec} is an {says.reference} (by its torch class or rnn_verify_kind), not an "
            f"{kind.reference}: drop --kind {kind.name}, or name another implementation"
        )
    chosen = kind or says or RNN
    if gate_order is not None:
        loaded = Adapter(_gate_indices(gate_order, chosen, adapter))
    fields = ModuleConfig.__dataclass_fields__
    defaults = {
        name: fields[name].default
        for name in chosen.arguments
        if fields[name].default is not dataclasses.MISSING
    }
    try:
        binding = bind(factory, chosen.arguments, defaults, arguments)
    except ValueError as error:
        raise ImplementationError(f"{spec}: {error}") from None
    return Implementation(
        spec,
        factory,
        loaded,
        chosen,
        adapter or None,
        binding,
        arguments=dict(arguments) if arguments else None,
        gate_order=gate_order,
    )


def _gate_indices(order: str, kind: Kind, adapter: str | None) -> tuple[int, ...]:
    """``order`` (gate letters) as indices of ``kind``'s gates."""
    letters = ", ".join(kind.gates)
    if adapter:
        raise ImplementationError(
            f"--gate-order {order} with --adapter {adapter}: your adapter's load() places the "
            "gate blocks itself (leave out one of them)"
        )
    if not kind.gates:
        raise ImplementationError(
            f"--gate-order {order}: an {kind.reference} has no gates (for a GRU or an LSTM: "
            "--kind gru / lstm)"
        )
    if sorted(order) != sorted(kind.gates):
        raise ImplementationError(
            f"--gate-order {order}: give each of {kind.reference}'s gates {letters} once, in "
            f"the order your class stacks them (torch's: {''.join(kind.gates)})"
        )
    return tuple(kind.gates.index(letter) for letter in order)


@contextlib.contextmanager
def native_aten() -> Iterator[None]:
    """ATen's native recurrence for nn.LSTM (oneDNN off); every other module always runs it."""
    with warnings.catch_warnings():  # the flags' setter warns about TF32 on Intel GPUs
        warnings.simplefilter("ignore", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def reference_routes(config: ModuleConfig, device: Any) -> dict[str, Callable[[], Any]]:
    """The ways torch's module of ``config`` may compute on ``device``, by name, each a
    context manager factory to run it under.

    nn.LSTM on the CPU hands float32 layers (bfloat16 and float16 where the CPU supports them)
    to oneDNN's fused kernel, whose rounding differs from ATen's native LSTM, which it runs
    for everything else (float64, ``proj_size``, batch 0, unequal packed lengths) and under
    ``torch.backends.mkldnn.flags(enabled=False)``. Both are nn.LSTM's behaviour, so an exact
    comparison accepts either (README, "The gated family"). Every other module has one route.
    """
    cpu = torch.device(device).type == "cpu"
    if config.kind.onednn and cpu and torch.backends.mkldnn.is_available():
        return {"its default route (oneDNN)": contextlib.nullcontext, "native ATen": native_aten}
    return {"": contextlib.nullcontext}


def error_route(config: ModuleConfig) -> Any:
    """The context invalid calls are compared under: ATen's native route for nn.LSTM (on its
    oneDNN route some invalid packed states return normally, and a state of too few rows
    corrupts the process's memory; a float64 ``h0`` gets a message about oneDNN), else none."""
    return native_aten() if config.kind.onednn else contextlib.nullcontext()


@contextlib.contextmanager
def untouched_rng(device: torch.device | str) -> Iterator[None]:
    """Run a block without disturbing the global RNG of the CPU and of ``device``."""
    device = torch.device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


def build_pair(
    implementation: Implementation,
    config: ModuleConfig,
    case: InputCase,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> tuple[Any, nn.Module]:
    """``(reference, implementation)`` with the case's weights, global RNG untouched: the reference
    is torch's module of ``config.family`` (its cell for a cell implementation).

    Raises:
        ImplementationError: the implementation cannot be built with the reference's constructor, or its
            adapter fails to load the weights.
    """
    with untouched_rng(device), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if implementation.is_cell:
            reference: Any = config.kind.cell.torch_class()(
                *config.cell_args(), device=device, dtype=dtype
            )
        else:
            reference = config.kind.torch_class()(**config.kwargs(), device=device, dtype=dtype)
        draw_weights(reference, case)
    return reference, build_from(implementation, reference, config)


def build_from(
    implementation: Implementation, reference: nn.Module, config: ModuleConfig | None = None
) -> nn.Module:
    """The implementation with ``reference``'s configuration, device, dtype and weights."""
    first = next(reference.parameters())
    if config is None:
        family = (declared(type(reference)) or RNN).family
        held = [name for name in MODULE_ARGUMENTS if hasattr(reference, name)]
        config = ModuleConfig(**{name: getattr(reference, name) for name in held}, family=family)
    with untouched_rng(first.device), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            impl = implementation.build(config, first.device, first.dtype)
        except Exception as exc:
            raise ImplementationError(
                f"{implementation.name}({config}, device={first.device}, dtype={first.dtype}) failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    try:
        with torch.no_grad():
            implementation.adapter.load(impl, reference)
    except Exception as exc:
        by = implementation.adapter_name or "names and shapes (the default adapter)"
        failed = (
            f"loading {config.kind.reference}'s weights into {implementation.name} built with "
            f"{config} by {by} failed: {type(exc).__name__}: {' '.join(str(exc).split())}"
        )
        other = _other_kind(impl, config)
        if other is not None:
            raise ImplementationError(
                f"{implementation.name} looks like an {other.reference} (its weights have "
                f"{len(other.gates)} gate blocks of rows, and loading {config.kind.reference}'s "
                f"failed): add --kind {other.name}"
            ) from exc
        if isinstance(exc, MappingError):  # a layout it cannot map: the error names its way out
            raise ImplementationError(failed) from exc
        raise ImplementationError(
            f"{failed} (if it does not support that configuration, narrow the run: --fix / "
            "--rnn-fix NAME=VALUE; if its weights are laid out otherwise, write an Adapter: "
            "--adapter)"
        ) from exc
    _check_named(implementation, impl)
    return impl


def _check_named(implementation: Implementation, impl: nn.Module) -> None:
    """Every tensor the adapter names is one forward can use: a leaf of autograd's graph (a
    tensor computed from the parameters, ``torch.cat`` of them or a view, is not what forward
    uses, and its gradient would be taken as zero).

    Raises:
        ImplementationError: one that is not, with the way out.
    """
    gates = implementation.kind.gates
    in_pieces = (
        f"; a parameter kept in pieces (one per gate) as the list of them in torch's gate "
        f"order ({', '.join(gates)})"
        if gates
        else ""
    )
    for name, value in implementation.adapter.named_parameters(impl).items():
        for piece in pieces(value):
            if isinstance(piece, Tensor) and piece.grad_fn is not None:
                by = implementation.adapter_name or "the default adapter"
                raise ImplementationError(
                    f"{by} names {name} by a tensor computed from {implementation.name}'s "
                    f"parameters ({piece.grad_fn.name()}), not one forward uses: gradients are "
                    "taken with respect to it. Its named_parameters gives the parameters "
                    f"themselves{in_pieces}"
                )


def _other_kind(impl: nn.Module, config: ModuleConfig) -> Kind | None:
    """The gated family whose gate blocks (3 or 4 of ``hidden_size`` rows) ``impl``'s
    matrices have, when ``config`` is of another family; else None."""
    rows = {p.shape[0] for p in impl.parameters() if p.dim() == 2}
    for kind in KINDS.values():
        gated = kind.gates and not kind.is_cell and kind.family != config.family
        if gated and len(kind.gates) * config.hidden_size in rows:
            return kind
    return None


def sub_reference(reference: nn.Module, config: ModuleConfig, rename: dict[str, str]) -> nn.Module:
    """A torch module with ``config`` (its family's) whose parameter ``new`` is a copy of
    ``reference``'s ``old`` for each ``new: old`` in ``rename`` (for laws that split a model
    into parts)."""
    first = next(reference.parameters())
    with untouched_rng(first.device), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        part = config.kind.torch_class()(**config.kwargs(), device=first.device, dtype=first.dtype)
    with torch.no_grad():
        for new, old in rename.items():
            getattr(part, new).copy_(getattr(reference, old))
    return part


def as_tensors(result: Any, config: ModuleConfig) -> tuple[Tensor, Tensor]:
    """``(output, h_n)`` from a forward result; a packed output gives its ``data``, an LSTM's
    ``(h_n, c_n)`` is joined (:func:`~rnn_impl.testing.cases.join_state`).

    Raises:
        AssertionError: the result is not an ``(output, h_n)`` pair of tensors (for an LSTM,
            ``(output, (h_n, c_n))``).
    """
    state = config.kind.state_name
    if not (isinstance(result, tuple) and len(result) == 2):
        got = type(result).__name__
        raise AssertionError(f"forward must return (output, {state}), got {got}")
    output, h_n = result
    if isinstance(output, PackedSequence):
        output = output.data
    if config.kind.paired_state:
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
