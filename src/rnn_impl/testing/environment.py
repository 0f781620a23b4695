"""The environment variables and defaults that name the implementation under test, in one
place for ``rnn-verify`` and the pytest plugin (this module imports neither torch nor
Hypothesis)."""

from __future__ import annotations

import os

IMPL_ENV = "RNN_IMPL"
CELL_IMPL_ENV = "RNN_CELL_IMPL"
ADAPTER_ENV = "RNN_IMPL_ADAPTER"
DEFAULT_IMPL = "rnn_impl:RNN"
DEFAULT_CELL_IMPL = "rnn_impl:RNNCell"

KINDS = {
    "rnn": "RNN",
    "gru": "GRU",
    "lstm": "LSTM",
    "cell": "RNNCell",
    "gru_cell": "GRUCell",
    "lstm_cell": "LSTMCell",
}
"""The kinds of implementation the suite verifies, and the torch module each imitates
(``rnn-verify --kind``; else detected: :func:`rnn_impl.testing.oracle.kind_of`)."""


def subject_spec(explicit: str | None = None, kind: str = "rnn") -> str:
    """The ``module:attr`` of the implementation under test: ``explicit``, else the
    environment (``$RNN_IMPL``, or ``$RNN_CELL_IMPL`` for a cell kind), else the drop-in of
    ``kind`` (one of :data:`KINDS`: ``rnn_impl:RNN``, ``rnn_impl:RNNCell`` for ``"cell"``,
    ``rnn_impl:LSTM`` for ``"lstm"``, ...)."""
    cell = kind.endswith("cell")
    default = DEFAULT_CELL_IMPL if kind == "cell" else f"rnn_impl:{KINDS[kind]}"
    return explicit or os.environ.get(CELL_IMPL_ENV if cell else IMPL_ENV) or default


def adapter_spec(explicit: str | None = None) -> str | None:
    """The ``module:attr`` of its adapter: ``explicit``, else ``$RNN_IMPL_ADAPTER``, else None
    (nn.RNN's parameter names)."""
    return explicit or os.environ.get(ADAPTER_ENV) or None
