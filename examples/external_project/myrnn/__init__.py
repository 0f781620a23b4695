"""A sample project's RNN, gated by rnn-impl's catalogue (see tests/test_my_rnn.py)."""

from myrnn.rnn import MyRNN

__all__ = ["MyRNN"]
