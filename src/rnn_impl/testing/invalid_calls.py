"""Error parity: a catalogue of invalid constructor arguments and forward inputs, and the
comparison of what torch's module (nn.RNN, nn.GRU, nn.LSTM, their cells) and an implementation
do with each. :func:`constructor_cases`, :func:`forward_cases` and :func:`cell_forward_cases`
give a family's catalogue.

The expected outcome is never written down: it is whatever ``torch.nn.RNN`` does with the
same call, at run time. An :class:`Outcome` records the exception type and message (or
success) and the warnings raised; two outcomes must be equal.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnn_impl.testing.cases import ModuleConfig
from rnn_impl.testing.kinds import Kind


@dataclass(frozen=True)
class Outcome:
    """What a call did: ``error`` is ``"TypeName: message"`` or None; ``warned`` the warnings."""

    error: str | None
    warned: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = self.error or "returned normally"
        if self.warned:
            text += f" (warned: {'; '.join(self.warned)})"
        return text


def outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """Run ``call(*args, **kwargs)``; record its exception (type and message) and warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call(*args, **kwargs)
            error = None
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
    warned = tuple(f"{w.category.__name__}: {w.message}" for w in caught)
    return Outcome(error, warned)


def assert_same_outcome(
    expected: Outcome, actual: Outcome, context: str, reference: str = "torch.nn.RNN"
) -> None:
    """``actual`` (the implementation's) must be ``expected`` (``reference``'s)."""
    if expected != actual:
        raise AssertionError(
            f"{context}\n  {reference + ':':20}{expected}\n  implementation:     {actual}"
        )


def first_difference(
    calls: Mapping[str, tuple[Callable[[], Any], Callable[[], Any]]],
    reference: str = "torch.nn.RNN",
) -> tuple[str, AssertionError] | None:
    """For labelled ``(nn.RNN's call, the implementation's call)`` pairs, the first whose
    outcomes differ, with the comparison's message; None when all agree."""
    for label, (expected, actual) in calls.items():
        try:
            assert_same_outcome(outcome(expected), outcome(actual), label, reference)
        except AssertionError as exc:
            return label, exc
    return None


CONSTRUCTOR_CASES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "proj_size keyword": ((3, 4), {"proj_size": 2}),
    "proj_size zero": ((3, 4), {"proj_size": 0}),
    "unknown keyword": ((3, 4), {"foo": 1}),
    "nonlinearity capitalised": ((3, 4), {"nonlinearity": "Tanh"}),
    "nonlinearity None": ((3, 4), {"nonlinearity": None}),
    "nonlinearity positional sigmoid": ((3, 4, 1, "sigmoid"), {}),
    "dropout None": ((3, 4, 2), {"dropout": None}),
    "dropout complex": ((3, 4, 2), {"dropout": 1j}),
    "dropout text": ((3, 4, 2), {"dropout": "abc"}),
    "dropout numeric text": ((3, 4, 2), {"dropout": "0.5"}),
    "dropout negative": ((3, 4, 2), {"dropout": -0.1}),
    "dropout above one": ((3, 4, 2), {"dropout": 1.5}),
    "dropout nan": ((3, 4, 2), {"dropout": math.nan}),
    "dropout inf": ((3, 4, 2), {"dropout": math.inf}),
    "dropout bool": ((3, 4, 2), {"dropout": True}),
    "dropout tensor": ((3, 4, 2), {"dropout": torch.tensor(0.3)}),
    "dropout one layer warns": ((3, 4, 1), {"dropout": 0.5}),
    "dropout int one layer warns": ((3, 4), {"dropout": 1}),
    "dropout zero int": ((3, 4, 2), {"dropout": 0}),
    "bias int": ((3, 4), {"bias": 1}),
    "bias None": ((3, 4), {"bias": None}),
    "bias text": ((3, 4), {"bias": "True"}),
    "batch_first int": ((3, 4), {"batch_first": 0}),
    "batch_first text": ((3, 4), {"batch_first": "False"}),
    "input_size float": ((3.0, 4), {}),
    "input_size text": (("3", 4), {}),
    "input_size zero": ((0, 4), {}),
    "input_size negative": ((-1, 4), {}),
    "input_size bool": ((True, 4), {}),
    "hidden_size float": ((3, 4.0), {}),
    "hidden_size zero": ((3, 0), {}),
    "hidden_size negative": ((3, -2), {}),
    "hidden_size bool": ((3, True), {}),
    "num_layers zero": ((3, 4, 0), {}),
    "num_layers negative": ((3, 4, -1), {}),
    "num_layers text": ((3, 4, "2"), {}),
    "num_layers None": ((3, 4, None), {}),
    "num_layers float": ((3, 4, 2.0), {}),
    "num_layers bool": ((3, 4, True), {}),
    "both sizes zero": ((0, 0), {}),
    "bad nonlinearity and zero hidden": ((3, 0), {"nonlinearity": "gelu"}),
    "bad dropout and zero layers": ((3, 4, 0), {"dropout": 2}),
    "integer dtype": ((3, 4), {"dtype": torch.int64}),
    "bidirectional int": ((3, 4), {"bidirectional": 1}),
    "bidirectional text": ((3, 4), {"bidirectional": "yes"}),
}
"""Constructor calls, by name: ``(args, kwargs)``; each must do what nn.RNN does.

Not listed: mistakes Python itself reports for the function's signature (a missing size,
nonlinearity given twice), whose message names the function (``RNNBase.__init__`` in
nn.RNN): rnn_impl.RNN has a real signature, so those messages name ``RNN.__init__``.
"""


@dataclass(frozen=True)
class ErrorSizes:
    """Sizes an invalid forward call is built around (the valid parts stay valid)."""

    input_size: int = 3
    hidden_size: int = 4
    num_layers: int = 2
    seq_len: int = 5
    batch: int = 3
    bidirectional: bool = False
    batch_first: bool = False
    proj_size: int = 0

    def config(self, **more: Any) -> ModuleConfig:
        """A configuration of these sizes (an LSTM's projection included), with ``more`` of
        its arguments."""
        return ModuleConfig(
            self.input_size,
            self.hidden_size,
            self.num_layers,
            bidirectional=self.bidirectional,
            batch_first=self.batch_first,
            proj_size=self.proj_size,
            **more,
        )

    @property
    def output_size(self) -> int:
        """The width of ``h``: ``proj_size`` when an LSTM projects, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    @property
    def states(self) -> int:
        return self.num_layers * (2 if self.bidirectional else 1)


def _x(s: ErrorSizes, *, features: int | None = None, seq_len: int | None = None) -> Tensor:
    t = s.seq_len if seq_len is None else seq_len
    shape = (s.batch, t) if s.batch_first else (t, s.batch)
    return torch.zeros(*shape, features or s.input_size)


def _h(s: ErrorSizes, *shape: int) -> Tensor:
    return torch.zeros(*(shape or (s.states, s.batch, s.output_size)))


def _packed(s: ErrorSizes, features: int | None = None) -> PackedSequence:
    x = torch.zeros(s.seq_len, s.batch, features or s.input_size)
    lengths = [s.seq_len] + [1] * (s.batch - 1)
    return pack_padded_sequence(x, lengths, enforce_sorted=False)


FORWARD_CASES: dict[str, Callable[[ErrorSizes], tuple[Any, ...]]] = {
    "input 0-D": lambda s: (torch.tensor(1.0),),
    "input 1-D": lambda s: (torch.zeros(s.input_size),),
    "input 4-D": lambda s: (_x(s).unsqueeze(0),),
    "input 4-D float64": lambda s: (_x(s).unsqueeze(0).double(),),
    "input a list": lambda s: ([1.0, 2.0],),
    "unbatched input with 3-D h0": lambda s: (
        _x(s)[:, 0] if not s.batch_first else _x(s)[0],
        _h(s),
    ),
    "unbatched input with 1-D h0": lambda s: (
        _x(s).select(0 if s.batch_first else 1, 0),
        _h(s, s.hidden_size),
    ),
    "batched input with 2-D h0": lambda s: (_x(s), _h(s, s.states, s.hidden_size)),
    "batched input with 4-D h0": lambda s: (_x(s), _h(s).unsqueeze(0)),
    "h0 as a tuple": lambda s: (_x(s), (_h(s), _h(s))),
    "input float64": lambda s: (_x(s).double(),),
    "input int64": lambda s: (_x(s).long(),),
    "input float64 and wrong features": lambda s: (_x(s, features=s.input_size + 1).double(),),
    "wrong features": lambda s: (_x(s, features=s.input_size + 3),),
    "wrong features unbatched": lambda s: (
        _x(s, features=s.input_size + 1).select(0 if s.batch_first else 1, 0),
    ),
    "wrong features and wrong h0": lambda s: (
        _x(s, features=s.input_size + 1),
        _h(s, s.states, s.batch + 1, s.hidden_size),
    ),
    "h0 wrong batch": lambda s: (_x(s), _h(s, s.states, s.batch + 1, s.hidden_size)),
    "h0 wrong hidden": lambda s: (_x(s), _h(s, s.states, s.batch, s.hidden_size + 1)),
    "h0 wrong layers": lambda s: (_x(s), _h(s, s.states + 1, s.batch, s.hidden_size)),
    "h0 batch-first": lambda s: (_x(s), _h(s, s.batch, s.states, s.hidden_size)),
    "h0 missing direction": lambda s: (_x(s), _h(s, s.num_layers, s.batch, s.hidden_size)),
    "unbatched h0 wrong layers": lambda s: (
        _x(s).select(0 if s.batch_first else 1, 0),
        _h(s, s.states + 1, s.hidden_size),
    ),
    "h0 float64": lambda s: (_x(s), _h(s).double()),
    "h0 int64": lambda s: (_x(s), _h(s).long()),
    "seq_len 0": lambda s: (_x(s, seq_len=0),),
    "seq_len 0 with h0": lambda s: (_x(s, seq_len=0), _h(s)),
    "seq_len 0 unbatched": lambda s: (torch.zeros(0, s.input_size),),
    "h0 on meta": lambda s: (_x(s), _h(s).to("meta")),
    "input on meta": lambda s: (_x(s).to("meta"),),
    "input on meta with cpu h0": lambda s: (_x(s).to("meta"), _h(s)),
    "input float64 on meta": lambda s: (_x(s).double().to("meta"),),
    "packed wrong features": lambda s: (_packed(s, s.input_size + 2),),
    "packed with 2-D h0": lambda s: (_packed(s), _h(s, s.states, s.hidden_size)),
    "packed h0 wrong hidden": lambda s: (_packed(s), _h(s, s.states, s.batch, s.hidden_size + 1)),
    "packed 3-D data": lambda s: (PackedSequence(_x(s), torch.tensor([s.batch] * s.seq_len)),),
    "packed float64": lambda s: (
        PackedSequence(
            torch.zeros(s.seq_len * s.batch, s.input_size, dtype=torch.float64),
            torch.tensor([s.batch] * s.seq_len),
        ),
    ),
}
"""Invalid forward calls, by name: ``sizes -> args``; each must fail as nn.RNN fails."""


CELL_CONSTRUCTOR_CASES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "bias positional relu": ((3, 4, "relu"), {}),
    "bias int": ((3, 4, 1), {}),
    "bias zero": ((3, 4, 0), {}),
    "nonlinearity sigmoid": ((3, 4), {"nonlinearity": "sigmoid"}),
    "input_size zero": ((0, 4), {}),
    "hidden_size zero": ((3, 0), {}),
    "hidden_size negative": ((3, -1), {}),
    "input_size float": ((3.0, 4), {}),
    "integer dtype": ((3, 4), {"dtype": torch.int64}),
    "unknown keyword": ((3, 4), {"foo": 1}),
}
"""RNNCell constructor calls: nn.RNNCell validates nothing here, and neither may we."""

CELL_FORWARD_CASES: dict[str, Callable[[ErrorSizes], tuple[Any, ...]]] = {
    "input 3-D": lambda s: (torch.zeros(s.batch, 1, s.input_size),),
    "input 0-D": lambda s: (torch.tensor(1.0),),
    "hidden 4-D": lambda s: (
        torch.zeros(s.batch, s.input_size),
        torch.zeros(s.batch, 1, 1, s.hidden_size),
    ),
    "wrong features": lambda s: (torch.zeros(s.batch, s.input_size + 1),),
    "wrong features and hidden": lambda s: (
        torch.zeros(s.batch, s.input_size + 1),
        torch.zeros(s.batch, s.hidden_size + 1),
    ),
    "hidden wrong batch": lambda s: (
        torch.zeros(s.batch, s.input_size),
        torch.zeros(s.batch + 2, s.hidden_size),
    ),
    "hidden wrong size": lambda s: (
        torch.zeros(s.batch, s.input_size),
        torch.zeros(s.batch, s.hidden_size + 1),
    ),
    "unbatched input with 2-D hidden": lambda s: (
        torch.zeros(s.input_size),
        torch.zeros(1, s.hidden_size),
    ),
    "batched input with 1-D hidden": lambda s: (
        torch.zeros(s.batch, s.input_size),
        torch.zeros(s.hidden_size),
    ),
    "input float64": lambda s: (torch.zeros(s.batch, s.input_size, dtype=torch.float64),),
    "hidden float64": lambda s: (
        torch.zeros(s.batch, s.input_size),
        torch.zeros(s.batch, s.hidden_size, dtype=torch.float64),
    ),
    "batch 0": lambda s: (torch.zeros(0, s.input_size),),
}
"""Invalid (and edge) RNNCell forward calls: ``sizes -> args``."""


def _packed_lstm(s: ErrorSizes, states: int, batch: int) -> tuple[Any, ...]:
    x = torch.zeros(s.seq_len, s.batch, s.input_size)
    packed = pack_padded_sequence(x, [s.seq_len] * s.batch)
    return packed, (
        torch.zeros(states, batch, s.output_size),
        torch.zeros(states, batch, s.hidden_size),
    )


LSTM_FORWARD_CASES: dict[str, Callable[[ErrorSizes], tuple[Any, ...]]] = {
    "packed state batch too large": lambda s: _packed_lstm(s, s.states, s.batch + 2),
    "packed state batch too small": lambda s: _packed_lstm(s, s.states, s.batch - 1),
    "packed state extra layer": lambda s: _packed_lstm(s, s.states + 1, s.batch),
    "packed state missing layer": lambda s: _packed_lstm(s, s.states - 1, s.batch),
    "h0 only": lambda s: (
        torch.zeros(s.seq_len, s.batch, s.input_size),
        torch.zeros(s.states, s.batch, s.output_size),
    ),
    "c0 wrong size": lambda s: (
        torch.zeros(s.seq_len, s.batch, s.input_size),
        (
            torch.zeros(s.states, s.batch, s.output_size),
            torch.zeros(s.states, s.batch, s.hidden_size + 1),
        ),
    ),
    "c0 2-D": lambda s: (
        torch.zeros(s.seq_len, s.batch, s.input_size),
        (torch.zeros(s.states, s.batch, s.output_size), torch.zeros(s.states, s.hidden_size)),
    ),
    "unbatched with 3-D c0": lambda s: (
        torch.zeros(s.seq_len, s.input_size),
        (torch.zeros(s.states, s.output_size), torch.zeros(s.states, 1, s.hidden_size)),
    ),
    "c0 float64": lambda s: (
        torch.zeros(s.seq_len, s.batch, s.input_size),
        (
            torch.zeros(s.states, s.batch, s.output_size),
            torch.zeros(s.states, s.batch, s.hidden_size).double(),
        ),
    ),
}
"""nn.LSTM's own mistakes: its state is a pair (and for packed input ATen checks it)."""


def as_pair(args: tuple[Any, ...], s: ErrorSizes) -> tuple[Any, ...]:
    """An nn.RNN case for nn.LSTM or nn.LSTMCell: a tensor state ``h`` becomes ``(h, c)``,
    ``c`` zeros of ``h``'s shape but ``hidden_size`` wide (its dtype, on its device), so the
    mistake stays ``h``'s."""
    if len(args) == 2 and isinstance(args[1], Tensor):
        h = args[1]
        c = torch.zeros(*h.shape[:-1], s.hidden_size, dtype=h.dtype, device=h.device)
        return args[0], (h, c)
    return args


def forward_cases(kind: Kind) -> dict[str, Callable[[ErrorSizes], tuple[Any, ...]]]:
    """Invalid forward calls for a recurrent module of ``kind``: :data:`FORWARD_CASES`, and
    for an LSTM the same with each tensor state given as a pair, plus
    :data:`LSTM_FORWARD_CASES`."""
    if not kind.paired_state:
        return dict(FORWARD_CASES)
    paired = {
        name: (lambda s, make=make: as_pair(make(s), s)) for name, make in FORWARD_CASES.items()
    }
    return {**paired, **LSTM_FORWARD_CASES}


PROJ_CASES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "proj_size negative": ((3, 4), {"proj_size": -1}),
    "proj_size equal to hidden": ((3, 4), {"proj_size": 4}),
    "proj_size above hidden": ((3, 4), {"proj_size": 9}),
    "proj_size float": ((3, 4), {"proj_size": 2.0}),
    "proj_size bool": ((3, 4), {"proj_size": True}),
}
"""Projection sizes nn.RNNBase refuses (nn.GRU with the message that it does not project,
nn.LSTM with its range check): the gated modules' cases (rnn_impl.RNN's signature differs
here: the README's deliberate differences)."""

PROJ_POSITIONAL: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "proj_size positional": ((3, 4, 1, True, False, 0.0, False, 2), {}),
}
"""nn.LSTM's eighth positional argument. Not for nn.GRU, which takes it as nn.RNNBase's
``proj_size`` (and builds a GRU with projections that cannot run), where a GRU's signature
has ``device``."""


def constructor_cases(kind: Kind) -> dict[str, tuple[tuple[Any, ...], dict[str, Any]]]:
    """Constructor calls for a recurrent module of ``kind``: :data:`CONSTRUCTOR_CASES`, with
    the gated modules' :data:`PROJ_CASES` and nn.LSTM's :data:`PROJ_POSITIONAL`."""
    cases = dict(CONSTRUCTOR_CASES)
    if kind.gates:
        cases.update(PROJ_CASES)
    if kind.takes("proj_size"):
        cases.update(PROJ_POSITIONAL)
    return cases


LSTM_CELL_CASES: dict[str, Callable[[ErrorSizes], tuple[Any, ...]]] = {
    "three states": lambda s: (
        torch.zeros(s.batch, s.input_size),
        (torch.zeros(s.batch, s.hidden_size),) * 3,
    ),
    "c wrong size": lambda s: (
        torch.zeros(s.batch, s.input_size),
        (torch.zeros(s.batch, s.hidden_size), torch.zeros(s.batch, s.hidden_size + 1)),
    ),
    "c 3-D": lambda s: (
        torch.zeros(s.batch, s.input_size),
        (torch.zeros(s.batch, s.hidden_size), torch.zeros(1, s.batch, s.hidden_size)),
    ),
    "unbatched with 2-D c": lambda s: (
        torch.zeros(s.input_size),
        (torch.zeros(s.hidden_size), torch.zeros(1, s.hidden_size)),
    ),
}
"""nn.LSTMCell's own mistakes with its ``(h, c)`` pair."""


def cell_forward_cases(kind: Kind) -> dict[str, Callable[[ErrorSizes], tuple[Any, ...]]]:
    """Invalid calls of a cell of ``kind``: :data:`CELL_FORWARD_CASES` (for the gated cells
    without :data:`CRASHES_GATED_CELLS`; for an LSTMCell with each hidden state given as a
    pair, plus :data:`LSTM_CELL_CASES`)."""
    if not kind.gates:
        return dict(CELL_FORWARD_CASES)
    safe = {k: v for k, v in CELL_FORWARD_CASES.items() if k not in CRASHES_GATED_CELLS}
    if not kind.paired_state:
        return safe
    paired = {name: (lambda s, make=make: as_pair(make(s), s)) for name, make in safe.items()}
    return {**paired, **LSTM_CELL_CASES}


CRASHES_GATED_CELLS = ("unbatched input with 2-D hidden",)
"""Cases left out for nn.GRUCell and nn.LSTMCell: given a hidden state of shape ``(1, 1)``
with unbatched input (``hidden_size=1``), they pass their checks and their kernels read out
of bounds (torch 2.13: a segmentation fault that ends the whole run, or garbage). For
nn.LSTMCell, "unbatched with 2-D c" keeps the mistake in the catalogue with a 1-D ``h``."""
