"""Verify any RNN implementation against ``torch.nn.RNN``.

* :mod:`~rnn_impl.testing.cases`: what a case is, and its tensors from a seed.
* :mod:`~rnn_impl.testing.oracle`: the implementation under test next to nn.RNN.
* :mod:`~rnn_impl.testing.errors`: the catalogue of invalid calls, compared by outcome.
* :mod:`~rnn_impl.testing.tolerances`: every tolerance, with its reason.
* :mod:`~rnn_impl.testing.covering`: pairwise covering arrays and the covering levels.
* :mod:`~rnn_impl.testing.strategies`: public Hypothesis strategies.
* :mod:`~rnn_impl.testing.properties`: the property catalogue.
* :mod:`~rnn_impl.testing.runner`: one property through Hypothesis (pytest and rnn-verify).
* :mod:`~rnn_impl.testing.zoo`: planted bugs the catalogue must catch, and the kill matrix.

Importing this package, ``cases``, ``oracle``, ``errors``, ``tolerances``, ``covering`` or
``devices`` does not import Hypothesis; the strategies, properties, runner and zoo do.
"""
