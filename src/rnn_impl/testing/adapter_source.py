"""The source of an editable :class:`~rnn_impl.testing.oracle.Adapter` that states a weights'
mapping (``rnn-verify --write-adapter FILE``), so that a user can read it, correct it, and
verify with ``--adapter``.

A mapping found on a module of several layers and directions is written as a loop over them:
the number in each of the user's names is the layer (``w_in.1``, ``ih_l1_reverse``) or
``2 * layer + direction`` (``cells.3``), whichever holds for every name. Names without such a
number (a cell, a class of one layer) are written as found.
"""

from __future__ import annotations

import re
import textwrap

from rnn_impl.testing.mapping import Plan, source_parts

_TORCH_NAME = re.compile(r"(\w+?)_l(\d+)(_reverse)?(?:\[\w\])?")
_NUMBER = re.compile(r"(?<![0-9])(\d+)(?=$|[^0-9a-zA-Z])")
"""A layer number as the mapping reads one: standing alone or ending a word (``0``, ``l0``),
never between letters (``in2hid``)."""

HEADER = '''"""An Adapter written by `rnn-verify --write-adapter` from the names and shapes of the
parameters (never from outputs). Check each line of `plan` (a torch parameter, or one gate
block of it: `weight_ih_l0[r]`), correct what is wrong, then verify with:

    {command}
"""

from rnn_impl.testing import Adapter as _Default


'''


def adapter_source(command: str, plan: Plan) -> str:
    """A module defining ``plan(layers, directions)`` (the user's parameter -> torch's whose
    sum it receives) and ``Adapter``, which loads by it; ``command`` verifies with it."""
    header = HEADER.format(command=command)
    loop = _as_loop(plan)
    if loop is None:
        entries = "".join(f"        {name!r}: {sources!r},\n" for name, sources in plan.items())
        body = (
            "def plan(layers, directions):\n"
            '    """Your parameter -> the torch parameters whose sum it gets (as found on the\n'
            '    module rnn-verify built: write the others in if your class has more)."""\n'
            f"    return {{\n{entries}    }}\n"
        )
    else:
        body = loop
    adapter = (
        "\n\nclass Adapter(_Default):\n"
        "    def plan(self, impl, reference):\n"
        '        layers = getattr(reference, "num_layers", 1)\n'
        '        return plan(layers, 2 if getattr(reference, "bidirectional", False) else 1)\n'
    )
    return header + body + adapter


def _as_loop(plan: Plan) -> str | None:
    """``plan(layers, directions)`` as a loop, or None where the names carry no layer number
    that holds for every one."""
    slots = {}
    for name, sources in plan.items():
        found = _TORCH_NAME.fullmatch(sources[0])
        number = _NUMBER.search(name)
        if found is None or number is None:
            return None
        slots[name] = (int(found.group(2)), int(bool(found.group(3))), number)
    for encoding in ("layer", "index"):
        if all(_encodes(encoding, *slot) for slot in slots.values()):
            break
    else:
        return None
    if all(direction == 0 for _, direction, _ in slots.values()):  # the class has one
        return _one_direction(plan, slots)
    lines = [
        "def plan(layers, directions):",
        '    """Your parameter -> the torch parameters whose sum it gets."""',
        "    found = {}",
        "    for layer in range(layers):",
        "        for direction in range(directions):",
        '            suffix = f"_l{layer}" + ("_reverse" if direction else "")',
    ]
    if encoding == "index":
        lines.append("            index = directions * layer + direction")
    by_direction: dict[int, list[str]] = {}
    for name, sources in plan.items():
        _, direction, number = slots[name]
        if encoding == "index" and direction:
            continue  # the index names the direction: one line serves both
        theirs = f"{name[: number.start()]}{{{encoding}}}{name[number.end() :]}"
        torch_names = ", ".join(f'f"{_role(s, "{suffix}")}"' for s in sources)
        line = f'found[f"{theirs}"] = ({torch_names}{"," if len(sources) == 1 else ""})'
        chosen = by_direction.setdefault(0 if encoding == "index" else direction, [])
        if line not in chosen:  # every layer gives the same line
            chosen.append(line)
    if len(by_direction) == 1:
        lines += [f"            {line}" for line in by_direction[0]]
    else:
        lines.append("            if direction == 0:")
        lines += [f"                {line}" for line in by_direction[0]]
        lines.append("            else:")
        lines += [f"                {line}" for line in by_direction[1]]
    lines.append("    return found")
    return "\n".join(lines) + "\n"


def _one_direction(plan: Plan, slots: dict[str, tuple[int, int, re.Match[str]]]) -> str:
    """``plan(layers, directions)`` for a class of one direction, the number its layer."""
    lines = [
        "def plan(layers, directions):",
        '    """Your parameter -> the torch parameters whose sum it gets (one direction)."""',
        "    found = {}",
        "    for layer in range(layers):",
    ]
    for name, sources in plan.items():
        number = slots[name][2]
        theirs = f"{name[: number.start()]}{{layer}}{name[number.end() :]}"
        torch_names = ", ".join(f'f"{_role(s, "_l{layer}")}"' for s in sources)
        line = f'        found[f"{theirs}"] = ({torch_names}{"," if len(sources) == 1 else ""})'
        if line not in lines:
            lines.append(line)
    lines.append("    return found")
    return "\n".join(lines) + "\n"


def _role(torch_name: str, suffix: str) -> str:
    """``weight_ih{suffix}`` of ``weight_ih_l1_reverse``, ``weight_ih{suffix}[r]`` of a gate
    block ``weight_ih_l1[r]``."""
    name, gate = source_parts(torch_name)
    return name[: name.rindex("_l")] + suffix + (f"[{gate}]" if gate else "")


def _encodes(encoding: str, layer: int, direction: int, number: re.Match[str]) -> bool:
    value = int(number.group(1))
    return value == (layer if encoding == "layer" else 2 * layer + direction)


SKELETON = '''"""An Adapter skeleton written by `rnn-verify --write-adapter`: no mapping follows from
the names and shapes of the parameters:
{why}

Fill in `load` and `named_parameters`, then verify with:

    {command}
"""

from rnn_impl.testing import Adapter as _Default


class Adapter(_Default):
    def load(self, impl, reference):
        """Copy torch's parameters into yours (called under torch.no_grad).

        torch's, on the module rnn-verify built:
{torch}
        yours:
{yours}
        """
        raise NotImplementedError("copy torch's parameters into yours: impl.<yours>.copy_(...)")

    def named_parameters(self, impl):
        """Your tensors that forward uses, by torch's names; a weight kept in pieces (one per
        gate) as the list of them in torch's gate order{gates}."""
        raise NotImplementedError(\'return {{"weight_ih_l0": impl.<yours>, ...}}\')
'''


def skeleton_source(
    command: str,
    why: str,
    config: str,
    torch_shapes: dict[str, tuple[int, ...]],
    theirs: dict[str, tuple[int, ...]],
    gates: tuple[str, ...],
) -> str:
    """An Adapter whose ``load`` and ``named_parameters`` are left to the user, each side's
    parameters listed with their shapes: where no mapping follows (``why``)."""

    def listed(prefix: str, shapes: dict[str, tuple[int, ...]]) -> str:
        return "\n".join(
            f"            {prefix}.{name}  {tuple(shape)}" for name, shape in shapes.items()
        )

    return SKELETON.format(
        command=command,
        why=textwrap.fill(f"{why}.", 92, initial_indent="    ", subsequent_indent="    "),
        torch=f"            ({config})\n" + listed("reference", torch_shapes),
        yours=listed("impl", theirs),
        gates=f" ({', '.join(gates)})" if gates else "",
    )
