"""What ``rnn-verify`` and ``rnn-verify-search`` share on the command line: the options that
select what to verify (turned into a :class:`~rnn_impl.testing.session.Session`), usage errors
in one line with exit status 2, and importing a user's module from the working directory
(this module imports neither torch nor Hypothesis)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

USAGE_ERROR = 2


class UsageError(Exception):
    """A mistake of the user's: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse's parser, raising :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """The options that say what to verify: ``--impl``, ``--adapter``, ``--kind``,
    ``--property``, ``--tier``, ``--device``, ``--dtype``, ``--layout``, ``--arg``,
    ``--gate-order``, ``--fix``."""
    from rnn_impl.testing.cases import LAYOUTS
    from rnn_impl.testing.kinds import KINDS
    from rnn_impl.testing.tiers import TIERS

    parser.add_argument(
        "--impl",
        default=None,
        help="module:attr of the class or factory under test (default: $RNN_IMPL, else "
        "rnn_impl's drop-in of --kind, else rnn_impl:RNN)",
    )
    parser.add_argument(
        "--adapter",
        default=None,
        help="module:attr of an Adapter for other parameter names ($RNN_IMPL_ADAPTER)",
    )
    parser.add_argument(
        "--kind",
        choices=list(KINDS),
        default=None,
        help="the torch module it imitates (default: detected from the torch class it "
        "subclasses or its rnn_verify_kind attribute, else rnn)",
    )
    parser.add_argument(
        "--property",
        action="append",
        help="only this property, category or tier (repeatable; see --list)",
    )
    parser.add_argument(
        "--tier",
        action="append",
        choices=[*TIERS, "all"],
        help="what to verify and what exit 0 requires (repeatable): numerics (outputs, "
        "states, gradients, the laws), behaviour (layouts, states, dropout, shapes, "
        "conversion), drop-in (parameters, repr, errors, initialisation, bit identity, ...), "
        "workflows (torch.compile with $RNN_VERIFY_COMPILE_BACKEND, default aot_eager, and "
        "torch.export; opt-in) or all; default: numerics and behaviour for your own class, "
        "drop-in too for a subclass of torch's module or rnn_impl's drop-in",
    )
    parser.add_argument("--device", action="append", help="only this device (repeatable)")
    parser.add_argument(
        "--dtype", action="append", help="only this dtype, e.g. float32 (repeatable)"
    )
    parser.add_argument(
        "--layout",
        action="append",
        choices=LAYOUTS,
        help="only inputs of this layout (repeatable), for implementations that support fewer",
    )
    parser.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="ARGUMENT=PARAMETER",
        help="pass torch's constructor ARGUMENT as the class's PARAMETER, e.g. "
        "num_layers=n_stack (repeatable; names and the aliases of rnn_impl.testing.binding "
        "are bound without it)",
    )
    parser.add_argument(
        "--gate-order",
        default=None,
        metavar="LETTERS",
        help="the order a GRU or LSTM look-alike stacks its gate blocks in, e.g. ifog (torch's: "
        "rzn, ifgo); the weights are loaded so and compared in torch's order",
    )
    parser.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="hold a constructor argument fixed, e.g. bidirectional=false (repeatable), for "
        "implementations that support less; properties that draw their own are skipped",
    )


def selection_options(args: argparse.Namespace) -> dict[str, Any]:
    """The selection options as :meth:`~rnn_impl.testing.session.Session.from_options`
    takes them (plain values: a search worker rebuilds its session from them); the devices
    default to those this machine has."""
    from rnn_impl.testing import devices

    return {
        "impl": args.impl,
        "adapter": args.adapter,
        "kind": args.kind,
        "properties": args.property,
        "devices": args.device or list(devices.available_devices()),
        "dtypes": args.dtype,
        "layouts": args.layout,
        "fix": list(args.fix),
        "tiers": args.tier,
        "arguments": list(args.arg),
        "gate_order": args.gate_order,
    }


def selection(options: dict[str, Any], **more: Any) -> Any:
    """The :class:`~rnn_impl.testing.session.Session` of ``options``
    (:func:`selection_options`) and ``more`` of its arguments, and its runs that run here.

    Raises:
        UsageError: it cannot be made, or nothing runs here (the session's one-line reason).
    """
    from rnn_impl.testing.session import SelectionError, Session

    try:
        session = Session.from_options(**options, **more)
    except SelectionError as error:
        raise UsageError(str(error)) from None
    return session, selection_of(session)


def selection_of(session: Any) -> list[Any]:
    """The runs of ``session`` that run here.

    Raises:
        UsageError: none does (the session's one-line reason).
    """
    from rnn_impl.testing.session import SelectionError

    try:
        return session.live_runs()
    except SelectionError as error:
        raise UsageError(str(error)) from None


def command_main(
    prog: str,
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None,
) -> int:
    """``run`` on ``argv`` parsed: a usage error (or an interrupt) is one line on stderr and
    exit status 2, never a traceback."""
    try:
        return run(parser.parse_args(argv))
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return USAGE_ERROR


def check_writable(option: str, path: Path | None, directory: bool = False) -> None:
    """Before any work: ``path`` (a file, or with ``directory`` a folder created when
    missing) can be written.

    Raises:
        UsageError: it cannot (one line naming the option, the path and why).
    """
    if path is None:
        return
    if directory:
        if path.exists() and not path.is_dir():
            raise UsageError(f"{option} {path}: not a directory (name a directory)")
        target = path
    else:
        if path.is_dir():
            raise UsageError(f"{option} {path}: is a directory (name a file in it)")
        if not path.parent.is_dir():
            raise UsageError(
                f"{option} {path}: no directory {path.parent} (create it, or name another path)"
            )
        target = path if path.exists() else path.parent
    while not target.exists():
        target = target.parent
    if not os.access(target, os.W_OK):
        raise UsageError(f"{option} {path}: {target} is not writable (name a writable path)")


def import_from_working_directory() -> None:
    """Let ``--impl my_module:MyRNN`` import from the working directory, after the installed
    packages (``python -m`` puts it first, where a stray torch.py would shadow torch)."""
    here = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", here)] + [here]


def require_hypothesis() -> None:
    """Raises:
    UsageError: Hypothesis is not installed (with the install command)."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise UsageError("hypothesis is not installed: pip install 'rnn-impl[verify]'") from None
