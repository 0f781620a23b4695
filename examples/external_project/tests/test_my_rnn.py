"""The whole rnn-impl catalogue against MyRNN (every tier, compiled and exported included: it
means to replace nn.RNN), with its known gap expected to fail."""

from rnn_impl.testing import parametrize_catalogue


@parametrize_catalogue(
    "myrnn.rnn:MyRNN",
    adapter="myrnn.rnn:MyAdapter",
    expected_failures="tests/rnn-expected-failures.txt",
    tiers=["all"],
)
def test_my_rnn(rnn_run):
    rnn_run()
