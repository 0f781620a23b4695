"""``python -m rnn_impl.testing``: the same as the ``rnn-verify`` command."""

from rnn_impl.testing.cli import main

raise SystemExit(main())
