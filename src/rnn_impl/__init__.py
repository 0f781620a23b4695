"""rnn_impl: a pure-PyTorch drop-in for ``torch.nn.RNN`` / ``torch.nn.RNNCell``, and a
property-based suite (:mod:`rnn_impl.testing`) that checks any RNN against ``torch.nn.RNN``.

``RNN`` and ``RNNCell`` are imported on first use, so that the pytest plugin
(:mod:`rnn_impl.testing.pytest_plugin`), which loads in every pytest run of an environment
with this package, does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnn_impl.cell import RNNCell
    from rnn_impl.rnn import RNN

__all__ = ["RNN", "RNNCell", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "RNN":
        from rnn_impl.rnn import RNN

        return RNN
    if name == "RNNCell":
        from rnn_impl.cell import RNNCell

        return RNNCell
    raise AttributeError(f"module 'rnn_impl' has no attribute {name!r}")
