"""What one verification case is, and how its tensors are made.

A case is plain data: an :class:`ModuleConfig` (nn.RNN's constructor arguments) and an
:class:`InputCase` (layout, sizes, lengths, h0 or not, a seed, scales). Tensors are made from
the seed through a local ``torch.Generator``, in float64 on the CPU, then cast: the same case
gives the same values (up to rounding) on every device and dtype, and the global RNG is never
touched. Hypothesis draws only these small descriptions, so shrinking stays cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnn_impl.testing.kinds import KINDS, MODULE_ARGUMENTS, RNN, Kind

LAYOUTS = ("batched", "unbatched", "packed_sorted", "packed_unsorted")


@dataclass(frozen=True)
class ModuleConfig:
    """The constructor arguments of a recurrent module (sizes and switches; device and dtype
    travel apart), and its ``family``: the kind name of the module (``"rnn"``, ``"gru"`` or
    ``"lstm"``, :data:`~rnn_impl.testing.kinds.FAMILIES`). Arguments the family's module does
    not take hold their defaults and are not passed (a GRU's ``nonlinearity`` stays
    ``"tanh"``, every ``proj_size`` but an LSTM's 0). A cell of the family takes the part of
    them its constructor has (:meth:`cell_args`).

    An LSTM's state is the pair ``(h, c)``; the suite handles it as one tensor, the two
    joined along the last dimension (:func:`join_state`), so every property that permutes,
    slices or compares a state does so for both.

    Example::

        >>> ModuleConfig(3, 4, family="gru").kwargs()
        {'input_size': 3, 'hidden_size': 4, 'num_layers': 1, 'bias': True, 'batch_first': False, 'dropout': 0.0, 'bidirectional': False}
    """

    input_size: int
    hidden_size: int
    num_layers: int = 1
    nonlinearity: str = "tanh"
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    proj_size: int = 0
    family: str = RNN.name

    @property
    def kind(self) -> Kind:
        """The kind of the family's recurrent module."""
        return KINDS[self.family]

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """``H_out``: the width of ``h`` and of each direction's output (``proj_size`` when
        an LSTM projects, else ``hidden_size``)."""
        return self.proj_size or self.hidden_size

    @property
    def state_size(self) -> int:
        """The last dimension of a state as the suite holds it: ``H_out``, plus
        ``hidden_size`` for an LSTM's ``c`` (:func:`join_state`)."""
        return self.output_size + (self.hidden_size if self.kind.paired_state else 0)

    def kwargs(self) -> dict[str, Any]:
        """The module's constructor arguments by keyword, in its positional order."""
        return {name: getattr(self, name) for name in self.kind.arguments}

    def cell_args(self) -> tuple[Any, ...]:
        """The positional arguments of the family's cell (nn.RNNCell's ``(input_size,
        hidden_size, bias, nonlinearity)``, the gated cells' first three)."""
        return tuple(getattr(self, name) for name in self.kind.cell.arguments)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs().items())
        return f"{self.kind.torch_name}({args})"


_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def parse_fixed(items: list[str]) -> dict[str, Any]:
    """``["num_layers=1", "bidirectional=false"]`` -> ``{"num_layers": 1, "bidirectional":
    False}``: constructor arguments to hold fixed while the rest of a configuration is drawn.

    Dropout may only be fixed at 0: the properties about dropout draw their own.

    Raises:
        ValueError: a one-line message for a malformed, repeated or unknown name, or a value
            that is not of the argument's type.
    """
    types = {name: type(getattr(ModuleConfig(1, 1), name)) for name in MODULE_ARGUMENTS}
    fixed: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise ValueError(f"fix takes NAME=VALUE, got {item!r}")
        if name not in types:
            raise ValueError(f"fix: unknown argument {name!r} (choose from {', '.join(types)})")
        if name in fixed:
            raise ValueError(f"fix: {name} given twice")
        kind = types[name]
        try:
            value = _BOOLEANS[text.lower()] if kind is bool else kind(text)
        except (KeyError, ValueError):
            raise ValueError(f"fix {name}: {text!r} is not a valid {kind.__name__}") from None
        if name == "nonlinearity" and value not in ("tanh", "relu"):
            raise ValueError(f"fix nonlinearity: {text!r} is neither tanh nor relu")
        if name in ("input_size", "hidden_size", "num_layers") and value < 1:
            raise ValueError(f"fix {name}: must be at least 1, got {value}")
        if name == "proj_size" and value < 0:
            raise ValueError(f"fix proj_size: must be at least 0, got {value}")
        if name == "dropout" and value != 0:
            raise ValueError("fix dropout: only 0 (the dropout properties draw their own)")
        fixed[name] = value
    return fixed


@dataclass(frozen=True)
class InputCase:
    """One forward call's input, described by sizes and a seed.

    Attributes:
        layout: one of :data:`LAYOUTS`.
        seq_len: T >= 1 (the padded length; the longest packed sequence).
        batch: B >= 0 (1 for ``unbatched``; >= 1 for packed layouts).
        lengths: per-sequence lengths in [1, T] for packed layouts, in the caller's order.
        with_h0: pass an explicit h0 rather than None.
        seed: seeds the generator that makes input, h0, weights and upstream gradients.
        input_scale: standard deviation of the input and h0 entries.
        weight_scale: weights are drawn from U(-s/sqrt(H), s/sqrt(H)); 1 is nn.RNN's init.

    Example::

        >>> inputs = make_inputs(ModuleConfig(3, 4), InputCase("batched", seq_len=5, batch=2))
        >>> inputs.input.shape, inputs.h0.shape
        (torch.Size([5, 2, 3]), torch.Size([1, 2, 4]))
    """

    layout: str = "batched"
    seq_len: int = 3
    batch: int = 2
    lengths: tuple[int, ...] | None = None
    with_h0: bool = True
    seed: int = 0
    input_scale: float = 1.0
    weight_scale: float = 1.0

    @property
    def packed(self) -> bool:
        return self.layout.startswith("packed")

    @property
    def batched(self) -> bool:
        return self.layout != "unbatched"


def case_size(config: ModuleConfig, case: InputCase) -> int:
    """``T * max(B, 1) * max(I, H) * L * D``: the measure size budgets cap."""
    width = max(config.input_size, config.hidden_size) * config.num_layers
    return case.seq_len * max(case.batch, 1) * width * config.num_directions


def join_state(state: Any) -> Any:
    """A recurrent state as the suite holds it: ``h`` as it is, an LSTM's ``(h, c)`` as one
    tensor, ``torch.cat([h, c], -1)`` (anything else is returned unchanged, for the caller to
    reject)."""
    if isinstance(state, tuple) and len(state) == 2 and all(isinstance(t, Tensor) for t in state):
        return torch.cat(state, -1)
    return state


def split_state(config: ModuleConfig, state: Tensor) -> Tensor | tuple[Tensor, Tensor]:
    """What a module of ``config``'s family takes: ``state`` itself, or for an LSTM the pair
    ``(h, c)`` (each made contiguous) that :func:`join_state` joined."""
    if not config.kind.paired_state:
        return state
    h, c = state.split([config.output_size, config.hidden_size], -1)
    return h.contiguous(), c.contiguous()


@dataclass
class Inputs:
    """The tensors of a case: ``input`` (Tensor or PackedSequence) and ``h0`` (or None; an
    LSTM's ``(h0, c0)`` joined, :func:`join_state`)."""

    input: Tensor | PackedSequence
    h0: Tensor | None
    padded: Tensor = field(repr=False)
    config: ModuleConfig = field(repr=False)

    def args(self) -> tuple[Any, ...]:
        """The forward call's arguments: ``(input,)`` or ``(input, h0)`` (an LSTM's
        ``(input, (h0, c0))``)."""
        if self.h0 is None:
            return (self.input,)
        return (self.input, split_state(self.config, self.h0))


def generator(seed: int, offset: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 7919 + offset) % (2**63))


def make_inputs(
    config: ModuleConfig,
    case: InputCase,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    requires_grad: bool = False,
    precision: torch.dtype | None = None,
) -> Inputs:
    """Build the case's input and h0 in the caller's layout, on ``device`` in ``dtype``
    (rounded to ``precision`` first, when given: the values an implementation in that dtype
    is given, held in float64 for torch's reference run).

    ``requires_grad`` makes the padded input and h0 leaves (a packed input's ``data`` is
    derived from the padded leaf, so gradients reach it). An LSTM's ``c0`` is drawn after
    ``h0`` and joined to it (:func:`join_state`).
    """
    g = generator(case.seed, 1)
    batch = case.batch if case.batched else 1
    states = config.num_layers * config.num_directions
    meta = torch.device(device).type == "meta"

    def draw(*shape: int) -> Tensor:  # on the meta device there are no values to draw
        if meta:
            return torch.empty(shape, dtype=torch.float64, device="meta")
        return torch.randn(shape, generator=g, dtype=torch.float64)

    x = draw(case.seq_len, batch, config.input_size)
    h = draw(states, batch, config.output_size)
    if config.kind.paired_state:
        c = draw(states, batch, config.hidden_size)
        h = join_state((h, c))
    first = precision or dtype
    x = (x * case.input_scale).to(first).to(device=device, dtype=dtype)
    h = (h * case.input_scale).to(first).to(device=device, dtype=dtype)
    if not case.batched:
        x, h = x[:, 0], h[:, 0]
    elif config.batch_first:
        x = x.transpose(0, 1)
    x = x.detach().requires_grad_(requires_grad)
    h0 = h.detach().requires_grad_(requires_grad) if case.with_h0 else None
    value: Tensor | PackedSequence = x
    if case.packed:
        lengths = list(case.lengths or [case.seq_len] * batch)
        value = pack_padded_sequence(
            x,
            torch.tensor(lengths, dtype=torch.int64),
            batch_first=config.batch_first,
            enforce_sorted=case.layout == "packed_sorted",
        )
    return Inputs(value, h0, x, config)


def draw_weights(reference: torch.nn.Module, case: InputCase) -> None:
    """Overwrite every parameter with U(-s/sqrt(H), s/sqrt(H)) from the case's generator (on
    the meta device, where there are no values, none are drawn)."""
    g = generator(case.seed, 2)
    hidden = int(reference.hidden_size)  # type: ignore[arg-type]
    bound = case.weight_scale / math.sqrt(hidden)
    with torch.no_grad():
        for p in reference.parameters():
            if p.device.type == "meta":
                continue
            values = torch.empty(p.shape, dtype=torch.float64).uniform_(-bound, bound, generator=g)
            p.copy_(values)


def upstream_grads(
    output: Tensor, h_n: Tensor, case: InputCase, precision: torch.dtype | None = None
) -> tuple[Tensor, Tensor]:
    """Random upstream gradients for ``output`` and ``h_n`` (an LSTM's joined with ``c_n``;
    same values for every module), in their dtypes (rounded to ``precision`` first, when
    given)."""
    g = generator(case.seed, 3)

    def draw(t: Tensor) -> Tensor:
        values = torch.randn(t.shape, generator=g, dtype=torch.float64)
        return values.to(precision or t.dtype).to(t.device, t.dtype)

    return draw(output), draw(h_n)


def make_cell_inputs(
    config: ModuleConfig,
    case: InputCase,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    requires_grad: bool = False,
    precision: torch.dtype | None = None,
) -> Inputs:
    """One cell step's input ``(B, I)`` (``(I,)`` unbatched) and hidden state ``(B, H)`` (an
    LSTMCell's ``(h, c)`` joined, ``(B, 2H)``; or None), from the case's seed: step 0 and layer
    0 of :func:`make_inputs`' tensors (rounded to ``precision`` first, when given)."""
    full = make_inputs(
        replace(config, batch_first=False),
        replace(case, layout=case.layout if case.layout == "unbatched" else "batched"),
        dtype,
        device,
        precision=precision,
    )
    x = full.padded[0].detach().requires_grad_(requires_grad)
    h = full.h0[0].detach().requires_grad_(requires_grad) if full.h0 is not None else None
    return Inputs(x, h, x, config)
