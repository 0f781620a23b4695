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


def subject_spec(explicit: str | None = None, kind: str = "rnn") -> str:
    """The ``module:attr`` of the implementation under test: ``explicit``, else the
    environment (``$RNN_IMPL``, or ``$RNN_CELL_IMPL`` for ``kind="cell"``), else the drop-in."""
    if kind == "cell":
        return explicit or os.environ.get(CELL_IMPL_ENV) or DEFAULT_CELL_IMPL
    return explicit or os.environ.get(IMPL_ENV) or DEFAULT_IMPL


def adapter_spec(explicit: str | None = None) -> str | None:
    """The ``module:attr`` of its adapter: ``explicit``, else ``$RNN_IMPL_ADAPTER``, else None
    (nn.RNN's parameter names)."""
    return explicit or os.environ.get(ADAPTER_ENV) or None
