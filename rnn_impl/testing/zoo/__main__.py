"""``python -m rnn_impl.testing.zoo [--out PATH] [--profile NAME]``: write the kill matrix."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hypothesis import settings

from rnn_impl.testing import profiles
from rnn_impl.testing.zoo import CONTROLS, ZOO
from rnn_impl.testing.zoo.matrix import kill_matrix, to_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_impl.testing.zoo", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="markdown file (default: stdout)")
    parser.add_argument("--profile", choices=profiles.PROFILES, default="ci")
    args = parser.parse_args(argv)
    profiles.register_profiles()
    bugs = ZOO + CONTROLS
    matrix = kill_matrix(bugs, settings.get_profile(args.profile))
    text = to_markdown(matrix, bugs, args.profile)
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    survivors = [b.label for b in ZOO if not any(v.killed for v in matrix[b.label].values())]
    false_alarms = [b.label for b in CONTROLS if any(v.killed for v in matrix[b.label].values())]
    for label in survivors:
        print(f"not killed: {label}", file=sys.stderr)
    for label in false_alarms:
        print(f"control killed: {label}", file=sys.stderr)
    return 1 if survivors or false_alarms else 0


if __name__ == "__main__":
    raise SystemExit(main())
