"""Verify any RNN implementation against ``torch.nn.RNN``.

* :mod:`rnn_impl.testing.cases`: what a case is, and its tensors from a seed.
* :mod:`rnn_impl.testing.oracle`: the implementation under test next to nn.RNN.
* :mod:`rnn_impl.testing.errors`: the catalogue of invalid calls, compared by outcome.
* :mod:`rnn_impl.testing.strategies`: public Hypothesis strategies (imports Hypothesis).
* :mod:`rnn_impl.testing.properties`: the property catalogue.

Nothing here imports Hypothesis at import time except :mod:`~rnn_impl.testing.strategies`.
"""
