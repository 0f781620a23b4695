"""``python -m rnn_impl``: the same as the ``rnn-verify`` command (:mod:`rnn_impl.testing.cli`)."""

from rnn_impl.testing.cli import main

raise SystemExit(main())
