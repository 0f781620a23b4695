"""The catalogue against rnn_impl.GRU (checked against nn.GRU): every property of an RNN
applies to a GRU but the cell ones, which this module leaves to test_catalogue.py."""

from rnn_impl.testing import parametrize_catalogue


@parametrize_catalogue(impl="rnn_impl:GRU", corpus="tests/rnn-corpus.json")
def test_gru_property(rnn_run):
    rnn_run()
