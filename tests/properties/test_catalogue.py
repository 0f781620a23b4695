"""Every property of the catalogue, on every device and dtype, against the implementation
under test (``--rnn-impl`` / ``$RNN_IMPL``, default rnn_impl:RNN; cell properties against
``--rnn-cell-impl`` / ``$RNN_CELL_IMPL``, default rnn_impl:RNNCell): the runs come from the
pytest plugin (:mod:`rnn_impl.testing.pytest_plugin`). Each run replays this repository's
regression corpus first (``tests/rnn-corpus.json``: :mod:`rnn_impl.testing.corpus`)."""

from rnn_impl.testing import parametrize_catalogue


@parametrize_catalogue(corpus="tests/rnn-corpus.json")
def test_property(rnn_run):
    rnn_run()
