"""The environment variables and defaults that name the implementation under test, in one
place for ``rnn-verify``, ``rnn-verify-search`` and the pytest plugin (this module imports
neither torch nor Hypothesis)."""

from __future__ import annotations

import os

from rnn_impl.testing.kinds import RNN, Kind

IMPL_ENV = "RNN_IMPL"
CELL_IMPL_ENV = "RNN_CELL_IMPL"
ADAPTER_ENV = "RNN_IMPL_ADAPTER"


def implementation_spec(explicit: str | None = None, kind: Kind = RNN) -> str:
    """The ``module:attr`` of the implementation under test: ``explicit``, else the
    environment (``$RNN_IMPL``, or ``$RNN_CELL_IMPL`` for a cell), else rnn_impl's drop-in of
    ``kind`` (``rnn_impl:RNN``, ``rnn_impl:LSTMCell``, ...)."""
    variable = CELL_IMPL_ENV if kind.is_cell else IMPL_ENV
    return explicit or os.environ.get(variable) or kind.drop_in


def adapter_spec(explicit: str | None = None) -> str | None:
    """The ``module:attr`` of its adapter: ``explicit``, else ``$RNN_IMPL_ADAPTER``, else None
    (torch's parameter names)."""
    return explicit or os.environ.get(ADAPTER_ENV) or None


BACKEND_ENV = "RNN_VERIFY_COMPILE_BACKEND"
DEFAULT_BACKEND = "aot_eager"
"""The ``torch.compile`` backend of the workflows tier by default: Dynamo's graph and
AOTAutograd's traced forward and backward, run by ATen's eager kernels (no C++ compiler
needed); ``inductor``, torch's own default, generates kernels that round differently."""


def compile_backend() -> str:
    """The backend the workflows tier compiles with: ``$RNN_VERIFY_COMPILE_BACKEND``, else
    :data:`DEFAULT_BACKEND`."""
    return os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
