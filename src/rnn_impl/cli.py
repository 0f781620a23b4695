"""The old home of ``rnn-verify``'s entry point, kept so ``rnn_impl.cli:main`` keeps working:
the verifier's front end lives in :mod:`rnn_impl.testing.cli`."""

from rnn_impl.testing.cli import main

__all__ = ["main"]
