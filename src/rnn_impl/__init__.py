"""rnn_impl: pure-PyTorch drop-ins for ``torch.nn.RNN``, ``LSTM``, ``GRU`` and their cells, and
a property-based suite (:mod:`rnn_impl.testing`) that checks any implementation of them against
torch's own.

Each drop-in is extended as torch's modules are, by subclassing; its public methods
``recurrence``, ``layer`` and ``step`` (a cell's ``step``) are the points a custom cell or
stack overrides, with :class:`LayerWeights` the weights they are given.

The modules are imported on first use, so that the pytest plugin
(:mod:`rnn_impl.testing.pytest_plugin`), which loads in every pytest run of an environment
with this package, does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnn_impl._steps import LayerWeights
    from rnn_impl.cell import GRUCell, LSTMCell, RNNCell
    from rnn_impl.gru import GRU
    from rnn_impl.lstm import LSTM
    from rnn_impl.rnn import RNN

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "LayerWeights", "RNNCell", "__version__"]
__version__ = "0.1.0"

_HOMES = {
    "RNN": "rnn_impl.rnn",
    "LSTM": "rnn_impl.lstm",
    "GRU": "rnn_impl.gru",
    "RNNCell": "rnn_impl.cell",
    "LSTMCell": "rnn_impl.cell",
    "GRUCell": "rnn_impl.cell",
    "LayerWeights": "rnn_impl._steps",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'rnn_impl' has no attribute {name!r}")
