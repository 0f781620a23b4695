"""The workflows tier (opt-in) against the drop-ins: each compiled with the aot_eager backend
and exported, on its covering rows and a few drawn examples, within the tolerances of the
eager properties (the drop-ins' bit-exactness under the compiler: tests/test_compile.py)."""

from rnn_impl.testing import parametrize_catalogue


@parametrize_catalogue(impl="rnn_impl:RNN", properties=["workflows"])
def test_rnn_workflows(rnn_run):
    rnn_run()


@parametrize_catalogue(impl="rnn_impl:GRU", properties=["workflows"])
def test_gru_workflows(rnn_run):
    rnn_run()


@parametrize_catalogue(impl="rnn_impl:LSTM", properties=["workflows"])
def test_lstm_workflows(rnn_run):
    rnn_run()
