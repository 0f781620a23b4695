"""The kinds of implementation the verifier knows: one record per torch module it can verify
an implementation against, in the manner of PyTorch's ``ModuleInfo`` (torch-free).

Every other module reads these records; none names a kind itself. A *kind* is one of six
modules (nn.RNN, nn.GRU, nn.LSTM and their cells); a *family* is a recurrent module and its
cell (nn.LSTM and nn.LSTMCell), named by the module's kind.

Example::

    >>> KINDS["lstm_cell"].reference, KINDS["lstm_cell"].family
    ('nn.LSTMCell', 'lstm')
    >>> kind_named("gru").state_name
    'h_n'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODULE_ARGUMENTS = (
    "input_size",
    "hidden_size",
    "num_layers",
    "nonlinearity",
    "bias",
    "batch_first",
    "dropout",
    "bidirectional",
    "proj_size",
)
"""Every constructor argument of the three recurrent modules (but ``device`` and ``dtype``), in
the order :class:`~rnn_impl.testing.cases.ModuleConfig` holds them."""


@dataclass(frozen=True)
class Kind:
    """One module an implementation can be verified against.

    Attributes:
        name: what ``rnn-verify --kind`` and ``rnn_verify_kind`` call it (``"lstm_cell"``).
        torch_name: the class in ``torch.nn`` (``"LSTMCell"``).
        family: the kind name of the recurrent module of its family (``"lstm"``).
        is_cell: one step (nn.RNNCell, ...) rather than a sequence; the cell properties
            verify it, the others a recurrent module.
        arguments: its constructor's arguments in positional order, without ``device`` and
            ``dtype``.
        state: what its state holds: ``("h",)``, or an LSTM's ``("h", "c")``.
        gates: the gate blocks along the rows of its weights, in torch's order (none for an
            Elman RNN).
        onednn: on the CPU, torch's module hands some dtypes to oneDNN's fused kernel, whose
            rounding differs from ATen's native one (nn.LSTM).
    """

    name: str
    torch_name: str
    family: str
    is_cell: bool
    arguments: tuple[str, ...]
    state: tuple[str, ...] = ("h",)
    gates: tuple[str, ...] = ()
    onednn: bool = False

    @property
    def reference(self) -> str:
        """How messages name torch's module: ``"nn.LSTM"``."""
        return f"nn.{self.torch_name}"

    @property
    def drop_in(self) -> str:
        """rnn_impl's drop-in of this kind, as ``module:attr``."""
        return f"rnn_impl:{self.torch_name}"

    @property
    def what(self) -> str:
        """What the properties that verify it verify: ``"a recurrent module"`` or ``"a
        cell"``."""
        return "a cell" if self.is_cell else "a recurrent module"

    @property
    def paired_state(self) -> bool:
        """Its state is a pair ``(h, c)`` (an LSTM's)."""
        return len(self.state) == 2

    @property
    def state_name(self) -> str:
        """How messages name the final state: ``"h_n"``, or ``"(h_n, c_n)"``."""
        names = [f"{part}_n" for part in self.state]
        return names[0] if len(names) == 1 else f"({', '.join(names)})"

    def takes(self, argument: str) -> bool:
        """Whether its constructor has ``argument`` (``"nonlinearity"``, ``"proj_size"``)."""
        return argument in self.arguments

    def torch_class(self) -> Any:
        """torch's module of this kind (imports torch)."""
        import torch.nn

        return getattr(torch.nn, self.torch_name)

    @property
    def module(self) -> Kind:
        """The recurrent module of its family (itself, for a module)."""
        return KINDS[self.family]

    @property
    def cell(self) -> Kind:
        """The cell of its family (itself, for a cell)."""
        return next(k for k in KINDS.values() if k.family == self.family and k.is_cell)


_MODULE = ("input_size", "hidden_size", "num_layers")
_SEQUENCE = ("bias", "batch_first", "dropout", "bidirectional")
_ELMAN = ("input_size", "hidden_size", "bias", "nonlinearity")
_GATED = ("input_size", "hidden_size", "bias")

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("rnn", "RNN", "rnn", False, (*_MODULE, "nonlinearity", *_SEQUENCE)),
        Kind("gru", "GRU", "gru", False, (*_MODULE, *_SEQUENCE), gates=("r", "z", "n")),
        Kind(
            "lstm",
            "LSTM",
            "lstm",
            False,
            (*_MODULE, *_SEQUENCE, "proj_size"),
            state=("h", "c"),
            gates=("i", "f", "g", "o"),
            onednn=True,
        ),
        Kind("rnn_cell", "RNNCell", "rnn", True, _ELMAN),
        Kind("gru_cell", "GRUCell", "gru", True, _GATED, gates=("r", "z", "n")),
        Kind(
            "lstm_cell",
            "LSTMCell",
            "lstm",
            True,
            _GATED,
            state=("h", "c"),
            gates=("i", "f", "g", "o"),
        ),
    )
}
"""Every kind, by name."""

RNN, GRU, LSTM = KINDS["rnn"], KINDS["gru"], KINDS["lstm"]
"""The recurrent modules' kinds (``RNN``: the kind assumed when nothing says otherwise,
:func:`detect`)."""
RNN_CELL, GRU_CELL, LSTM_CELL = KINDS["rnn_cell"], KINDS["gru_cell"], KINDS["lstm_cell"]
"""The cells' kinds."""

FAMILIES: tuple[str, ...] = tuple(k.name for k in KINDS.values() if not k.is_cell)
"""The families, by the kind name of their recurrent module: ``("rnn", "gru", "lstm")``."""


def described(cells: bool) -> str:
    """What the properties for cells (or for recurrent modules) verify: ``"a cell"``, ``"a
    recurrent module"``."""
    return next(kind for kind in KINDS.values() if kind.is_cell == cells).what


def kind_named(name: str) -> Kind:
    """The kind called ``name``.

    Raises:
        ValueError: no kind is called that; the message lists them.
    """
    if name not in KINDS:
        raise ValueError(f"unknown kind {name!r} (choose from {', '.join(KINDS)})")
    return KINDS[name]


def declared(factory: Any) -> Kind | None:
    """What ``factory`` says it builds: its ``rnn_verify_kind`` attribute (every rnn_impl
    drop-in has one), else the kind whose torch class it subclasses; None when it says
    nothing."""
    name = getattr(factory, "rnn_verify_kind", None)
    if name in KINDS:
        return KINDS[name]
    if isinstance(factory, type):
        for kind in KINDS.values():
            if issubclass(factory, kind.torch_class()):
                return kind
    return None


def detect(factory: Any) -> Kind:
    """What ``factory`` builds: what it declares (:func:`declared`), else :data:`RNN`."""
    return declared(factory) or RNN
