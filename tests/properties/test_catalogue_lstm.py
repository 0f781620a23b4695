"""The catalogue against rnn_impl.LSTM and rnn_impl.LSTMCell (checked against nn.LSTM, on
either of its CPU routes where results must be exact, and nn.LSTMCell)."""

from rnn_impl.testing import parametrize_catalogue


@parametrize_catalogue(
    impl="rnn_impl:LSTM", cell_impl="rnn_impl:LSTMCell", corpus="tests/rnn-corpus.json"
)
def test_lstm_property(rnn_run):
    rnn_run()
