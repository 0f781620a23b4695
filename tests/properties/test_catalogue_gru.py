"""The catalogue against rnn_impl.GRU and rnn_impl.GRUCell (checked against nn.GRU and
nn.GRUCell)."""

from rnn_impl.testing import parametrize_catalogue


@parametrize_catalogue(
    impl="rnn_impl:GRU", cell_impl="rnn_impl:GRUCell", corpus="tests/rnn-corpus.json"
)
def test_gru_property(rnn_run):
    rnn_run()
