"""What rnn-verify and rnn-verify-search share on the command line."""

from __future__ import annotations

import pytest

from rnn_impl.testing import devices
from rnn_impl.testing.command import (
    Parser,
    UsageError,
    add_selection_options,
    command_main,
    selection,
    selection_options,
)


def parse(*argv):
    parser = Parser(prog="x")
    add_selection_options(parser)
    return parser.parse_args(list(argv))


def test_the_selection_options_become_a_session_with_the_devices_here():
    options = selection_options(parse("--impl", "rnn_impl:GRU", "--property", "laws"))
    assert options["devices"] == list(devices.available_devices())
    session, live = selection(options)
    assert session.implementations[0].kind.name == "gru"
    assert {run.prop.category for run in live} == {"laws"}


def test_a_selection_that_runs_nothing_here_is_a_usage_error():
    with pytest.raises(UsageError, match="nothing to verify: no selected property applies"):
        selection(selection_options(parse("--property", "output_exact", "--device", "meta")))


def test_a_usage_error_is_one_line_and_exit_status_2(capsys):
    def run(args):
        raise UsageError("what went wrong, and its fix")

    assert command_main("prog", Parser(prog="prog"), run, []) == 2
    assert capsys.readouterr().err == "prog: error: what went wrong, and its fix\n"
    assert command_main("prog", Parser(prog="prog"), run, ["--nope"]) == 2
