"""``python -m rnn_impl``: the same as the ``rnn-verify`` command."""

from rnn_impl.cli import main

raise SystemExit(main())
