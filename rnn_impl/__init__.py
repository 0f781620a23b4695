"""rnn_impl: a pure-PyTorch drop-in for ``torch.nn.RNN`` / ``torch.nn.RNNCell``, and a
property-based suite (:mod:`rnn_impl.testing`) that checks any RNN against ``torch.nn.RNN``."""

from rnn_impl.cell import RNNCell
from rnn_impl.rnn import RNN

__all__ = ["RNN", "RNNCell", "__version__"]
__version__ = "0.1.0"
