"""torch's parameters mapped onto a user's, from names and shapes only (never from outputs: a
mapping chosen by what passes would hide a swapped-weight bug).

Each of the user's parameters is placed by: the layer and direction its name gives (a number in
it: the layer, or ``2k + d`` when a bidirectional module has twice as many; ``reverse`` /
``backward`` in it: the reverse direction), then what it is: a matrix whose shape tells the
input weight from the recurrent one (``(gates * hidden, input)`` against ``(gates * hidden,
hidden)``), else the alias in its name (:data:`INPUT_WORDS`, :data:`HIDDEN_WORDS`), else its
declaration order (input first); a vector is a bias, and a layer with one bias vector has
``b_ih + b_hh`` in it (for nn.RNN and nn.LSTM; a GRU's ``b_hn`` sits inside the reset gate's
product, so one bias cannot hold both: such a class is reported, not mapped).

A gated class that keeps a weight per gate and side (``W_ir``, ``W_hr``, ...; ``x_r``,
``h_r`` as nn.Linear layers; d2l's ``W_xz``, ``W_hz``, ``b_z``) receives one gate block of
torch's parameter, written ``weight_ih_l0[r]``: the gate from a word of its name (the letter,
``reset`` / ``update`` / ``new``, ``forget`` / ``output`` / ``cell``; a word such as ``ir``,
``xr`` or ``hz``: side and gate), one gate left unnamed taking the one no name gives (d2l's
candidate ``W_xh``, ``W_hh``); within a gate, input and recurrent as above.

Example::

    >>> plan = map_parameters(
    ...     {"w_in.0": (8, 3), "w_hh.0": (8, 8), "bh.0": (8,)},
    ...     {"weight_ih_l0": (8, 3), "weight_hh_l0": (8, 8), "bias_ih_l0": (8,), "bias_hh_l0": (8,)},
    ...     gru=False,
    ... )
    >>> plan["bh.0"]
    ('bias_ih_l0', 'bias_hh_l0')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from rnn_impl.testing.kinds import KINDS

INPUT_WORDS = frozenset(
    {
        "ih",
        "in",
        "x",
        "xh",
        "i2h",
        "x2h",
        "in2hid",
        "input",
        "inp",
        "wx",
        "wi",
        "wih",
        "bx",
        "bi",
        "bih",
    }
)
"""Words in a parameter's name that say it acts on the input (``w_in``, ``ih.weight``, ...)."""

HIDDEN_WORDS = frozenset(
    {"hh", "h", "h2h", "hid2hid", "hid", "hidden", "rec", "recurrent", "wh", "whh", "bh", "bhh"}
)
"""Words that say it acts on the hidden state (``w_hh``, ``hh.weight``, ...)."""

REVERSE_WORDS = frozenset({"reverse", "rev", "backward", "bwd", "back"})
"""Words that place a parameter in the reverse direction."""


GATE_WORDS: dict[tuple[str, ...], dict[str, str]] = {
    ("r", "z", "n"): {"reset": "r", "update": "z", "new": "n", "candidate": "n", "cand": "n"},
    ("i", "f", "g", "o"): {
        "forget": "f",
        "output": "o",
        "out": "o",
        "cell": "g",
        "candidate": "g",
        "cand": "g",
        "c": "g",
    },
}
"""Words that name a gate beyond its letter, by the gates of torch's module (an LSTM's
``input`` names the gate only beside ``gate``: ``input_gate_x``)."""

_SOURCE = re.compile(r"(\w+?)(?:\[(\w)\])?")


def source_parts(source: str) -> tuple[str, str | None]:
    """torch's parameter and gate of a plan's source: ``("weight_ih_l0", "r")`` of
    ``"weight_ih_l0[r]"`` (gate None: the whole parameter)."""
    found = _SOURCE.fullmatch(source)
    if found is None:
        raise MappingError(f"{source!r} is not a torch parameter, or one with [gate]")
    return found.group(1), found.group(2)


def gate_order(letters: Iterable[str]) -> tuple[str, ...]:
    """torch's order of the gates ``letters`` (all of one gated kind's)."""
    wanted = set(letters)
    found = next((g for g in GATE_WORDS if set(g) == wanted), None)
    if found is None:
        raise MappingError(f"gates {sorted(wanted)}: not all of nn.GRU's or nn.LSTM's")
    return found


class MappingError(ValueError):
    """The user's parameters cannot be mapped from names and shapes alone (the message says
    why, and how to settle it)."""


Plan = dict[str, tuple[str, ...]]
"""The user's parameter -> torch's parameters whose sum it receives (one, or a joined bias's
two), each whole or one gate block of it (``weight_ih_l0[r]``: :func:`source_parts`)."""


def map_parameters(
    theirs: Mapping[str, Sequence[int]], torch_shapes: Mapping[str, Sequence[int]], gru: bool
) -> Plan:
    """The plan that gives the parameters ``theirs`` (name -> shape, in declaration order)
    torch's ``torch_shapes`` (``weight_ih_l0``, ...); ``gru``: torch's module is a GRU.

    Raises:
        MappingError: no plan follows from the names and shapes.
    """
    slots = _torch_slots(torch_shapes)
    groups = _groups(list(theirs), len(slots))
    plan: Plan = {}
    for slot, names in zip(sorted(slots), groups):
        plan.update(_map_group(slot, names, theirs, slots[slot], torch_shapes, gru))
    return plan


def describe(plan: Plan) -> list[str]:
    """One line per parameter: ``w_in.0 <- weight_ih_l0``."""
    return [f"  {name} <- {' + '.join(sources)}" for name, sources in plan.items()]


def _torch_slots(shapes: Mapping[str, Sequence[int]]) -> dict[tuple[int, int], dict[str, str]]:
    """torch's parameters by (layer, direction), each by role (``weight_ih``, ...); a cell's
    (``weight_ih``) are layer 0's."""
    slots: dict[tuple[int, int], dict[str, str]] = {}
    for name in shapes:
        found = re.fullmatch(r"((?:weight|bias)_(?:ih|hh|hr))(?:_l(\d+)(_reverse)?)?", name)
        if found is None:
            raise MappingError(f"{name} is not one of torch's parameter names")
        role, layer, reverse = found.groups()
        slots.setdefault((int(layer or 0), int(bool(reverse))), {})[role] = name
    return slots


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[._\W]+|(?<=[a-z])(?=[A-Z])", name.lower()) if w]


def _groups(names: list[str], count: int) -> list[list[str]]:
    """The user's parameters by torch's (layer, direction), in torch's order."""
    if count == 1:
        return [names]
    keyed: dict[tuple[int, int], list[str]] = {}
    for name in names:
        words = _words(name)
        # a layer number stands alone ("0") or ends a word ("l0", "layer1"); a digit between
        # letters ("in2hid", "i2h") is part of a name
        numbers = [int(m.group(1)) for w in words if (m := re.fullmatch(r"[a-z]*(\d+)", w))]
        reverse = int(any(w in REVERSE_WORDS for w in words))
        if not numbers:
            raise MappingError(
                f"{name}: no layer number in its name, and the module has {count} layers and "
                "directions (write an Adapter: --adapter)"
            )
        keyed.setdefault((numbers[0], reverse), []).append(name)
    # (layer, 1) for a reverse word; else the number is 2 * layer + direction, as torch's
    # slots are ordered
    ordered = [keyed[key] for key in sorted(keyed)]
    if len(ordered) != count:
        found = "; ".join(
            f"{k}{' reverse' if d else ''}: {', '.join(keyed[(k, d)])}" for k, d in sorted(keyed)
        )
        raise MappingError(
            f"its parameters fall into {len(ordered)} layers and directions by the numbers in "
            f"their names ({found}), torch's module has {count} (write an Adapter: --adapter)"
        )
    return ordered


def _per_gate(
    count: int,
    wanted: Sequence[str],
    roles: dict[str, str],
    torch_shapes: Mapping[str, Sequence[int]],
    theirs: Mapping[str, Sequence[int]],
) -> str:
    """A hint where ``count`` matrices are one per gate of torch's ``wanted`` ones: ``""``
    where they are not."""
    gates, rest = divmod(count, len(wanted))
    kind = next((k for k in KINDS.values() if len(k.gates) == gates and not k.is_cell), None)
    if rest or kind is None:
        return ""
    stacked = torch_shapes[roles["weight_ih"]][0]
    rows = {shape[0] for shape in theirs.values() if len(shape) == 2}
    if rows == {stacked // gates}:  # torch's gated module, its blocks apart
        return (
            f": {gates} gate blocks each, kept apart? its Adapter's named_parameters gives each "
            f"torch weight as the list of them in torch's gate order ({', '.join(kind.gates)}); "
            f"or a gate in each name maps them (x_{kind.gates[0]}, h_{kind.gates[0]}, ...)"
        )
    if rows == {stacked}:  # torch's Elman module: a gated one, per gate?
        return f": one per gate of an {kind.reference}? --kind {kind.name}"
    return ""


def _map_group(
    slot: tuple[int, int],
    names: list[str],
    theirs: Mapping[str, Sequence[int]],
    roles: dict[str, str],
    torch_shapes: Mapping[str, Sequence[int]],
    gru: bool,
) -> Plan:
    where = f"layer {slot[0]}" + (" reverse" if slot[1] else "")
    matrices = [n for n in names if len(theirs[n]) == 2]
    vectors = [n for n in names if len(theirs[n]) == 1]
    plan: Plan = {}
    wanted = [r for r in ("weight_ih", "weight_hh", "weight_hr") if r in roles]
    per_gate = _per_gate_plan(where, matrices, vectors, roles, torch_shapes, theirs)
    if per_gate is not None:
        return per_gate
    if len(matrices) != len(wanted):
        raise MappingError(
            f"{where}: {len(matrices)} weight matrices ({', '.join(matrices)}), torch's module "
            f"has {len(wanted)}{_per_gate(len(matrices), wanted, roles, torch_shapes, theirs)} "
            "(write an Adapter: --adapter)"
        )
    for role, name in zip(wanted, _order(matrices, theirs, roles, torch_shapes)):
        shape, wanted_shape = tuple(theirs[name]), tuple(torch_shapes[roles[role]])
        if shape != wanted_shape:
            transposed = (
                ": stored transposed (used as x @ W)? its Adapter copies torch's weight .t() "
                "(examples/keras_lstm.py is one)"
                if shape == wanted_shape[::-1]
                else ""
            )
            raise MappingError(
                f"{where}: {name} has shape {shape}, {roles[role]} {wanted_shape}{transposed} "
                "(write an Adapter: --adapter)"
            )
        plan[name] = (roles[role],)
    biases = [r for r in ("bias_ih", "bias_hh") if r in roles]
    if not biases and vectors:
        raise MappingError(f"{where}: biases {', '.join(vectors)} where torch's module has none")
    if len(vectors) == 1 and len(biases) == 2:
        if gru:
            raise MappingError(
                f"{where}: one bias {vectors[0]} per layer cannot hold a GRU's b_ih and b_hh "
                "(b_hn sits inside the reset gate's product): not applicable"
            )
        plan[vectors[0]] = (roles["bias_ih"], roles["bias_hh"])
    elif len(vectors) == len(biases):
        ordered = sorted(vectors, key=lambda n: _role_rank(n, names))
        plan.update({n: (roles[r],) for n, r in zip(ordered, biases)})
    else:
        raise MappingError(
            f"{where}: {len(vectors)} bias vectors, torch's module has {len(biases)} "
            "(write an Adapter: --adapter)"
        )
    return plan


def _per_gate_plan(
    where: str,
    matrices: list[str],
    vectors: list[str],
    roles: dict[str, str],
    torch_shapes: Mapping[str, Sequence[int]],
    theirs: Mapping[str, Sequence[int]],
) -> Plan | None:
    """The plan of a layer that keeps a weight per gate and side, each named by its gate (None
    where the layer is not so: the caller's rules and messages apply)."""
    ih = tuple(torch_shapes[roles["weight_ih"]])
    gates = next(
        (g for g in GATE_WORDS if ih[0] % len(g) == 0 and len(matrices) == 2 * len(g)), None
    )
    if gates is None or "weight_hr" in roles:
        return None
    block = ih[0] // len(gates)
    if any(tuple(theirs[n])[0] != block for n in matrices + vectors):
        return None
    named = {n: _gate_of(n, gates) for n in matrices + vectors}
    if sum(gate is not None for gate in named.values()) < len(gates):
        return None  # not named by gates (x0, x1, ...): the caller says what the count suggests
    biases = [r for r in ("bias_ih", "bias_hh") if r in roles]
    _by_elimination(where, matrices, gates, named, per_gate=2)
    if vectors:
        _by_elimination(where, vectors, gates, named)
    hh = tuple(torch_shapes[roles["weight_hh"]])
    plan: Plan = {}
    for gate in gates:
        found = [n for n in matrices if named[n] == gate]
        if ih[1] != hh[1]:
            pair = sorted(found, key=lambda n: tuple(theirs[n])[1] != ih[1])
        else:
            pair = sorted(found, key=lambda n: _side(n, found))
        for role, name in zip(("weight_ih", "weight_hh"), pair):
            wanted_shape = (block, tuple(torch_shapes[roles[role]])[1])
            if tuple(theirs[name]) != wanted_shape:
                raise MappingError(
                    f"{where}: {name} has shape {tuple(theirs[name])}, gate {gate} of "
                    f"{roles[role]} {wanted_shape} (write an Adapter: --adapter)"
                )
            plan[name] = (f"{roles[role]}[{gate}]",)
        mine = [n for n in vectors if named[n] == gate]
        if len(mine) == 1 and len(biases) == 2:
            if gate == "n" and gates == ("r", "z", "n"):
                raise MappingError(
                    f"{where}: one bias {mine[0]} for the new gate cannot hold a GRU's b_in and "
                    "b_hn (b_hn sits inside the reset gate's product): not applicable"
                )
            plan[mine[0]] = tuple(f"{roles[r]}[{gate}]" for r in biases)
        elif len(mine) == len(biases):
            ordered = sorted(mine, key=lambda n: _side(n, mine))
            plan.update({n: (f"{roles[r]}[{gate}]",) for n, r in zip(ordered, biases)})
        else:
            raise MappingError(
                f"{where}: {len(mine)} bias vectors for gate {gate}, torch's module has "
                f"{len(biases)} (write an Adapter: --adapter)"
            )
    return plan


def _gate_of(name: str, gates: tuple[str, ...]) -> str | None:
    """The gate a parameter's name gives (None: none, or more than one)."""
    words = _words(name)
    synonyms = dict(GATE_WORDS[gates])
    if "gate" in words and "i" in gates:
        synonyms["input"] = "i"
    found = set()
    for word in words:
        side_and_gate = _unprefixed(word)
        if word in gates or word in synonyms:
            found.add(synonyms.get(word, word))
        elif len(side_and_gate) == 2 and side_and_gate[0] in "ixh":
            gate = synonyms.get(side_and_gate[1], side_and_gate[1])
            if gate in gates:
                found.add(gate)
    return found.pop() if len(found) == 1 else None


def _unprefixed(word: str) -> str:
    """A side-and-gate word without its weight or bias letter: ``ir`` of ``wir``."""
    return word[1:] if len(word) == 3 and word[0] in "wbu" else word


def _side(name: str, names: list[str]) -> tuple[int, int]:
    """Input (0) before recurrent (1) before unknown (2), then declaration order: a word such
    as ``ir`` or ``xr`` gives the side first, then :data:`INPUT_WORDS`, :data:`HIDDEN_WORDS`."""
    for word in _words(name):
        pair = _unprefixed(word)
        if len(pair) == 2 and pair[0] in "ixh" and pair not in HIDDEN_WORDS | INPUT_WORDS:
            return (0 if pair[0] in "ix" else 1), names.index(name)
    rank, index = _role_rank(name, names)
    return min(rank, 2), index


def _by_elimination(
    where: str,
    names: list[str],
    gates: tuple[str, ...],
    named: dict[str, str | None],
    per_gate: int | None = None,
) -> None:
    """The unnamed among ``names`` take the one gate their names leave short (in ``named``, in
    place); then each gate is named ``per_gate`` times (None: once at least), else a
    MappingError that says which."""
    counts = {g: sum(named[n] == g for n in names) for g in gates}
    unnamed = [n for n in names if named[n] is None]
    short = [g for g in gates if counts[g] < (per_gate or 1)]
    if unnamed and len(short) == 1 and len(unnamed) >= (per_gate or 1) - counts[short[0]]:
        named.update(dict.fromkeys(unnamed, short[0]))
        counts[short[0]] += len(unnamed)
        unnamed = []
    if unnamed or any(c != per_gate if per_gate else not c for c in counts.values()):
        found = ", ".join(f"{n}: {named[n] or '?'}" for n in names)
        want = f"{per_gate} for each" if per_gate else "one at least for each"
        raise MappingError(
            f"{where}: a weight per gate and side, but the gates their names give ({found}) "
            f"are not {want} of {', '.join(gates)} (write an Adapter: --adapter)"
        )


def _order(
    matrices: list[str],
    theirs: Mapping[str, Sequence[int]],
    roles: dict[str, str],
    torch_shapes: Mapping[str, Sequence[int]],
) -> list[str]:
    """The matrices as (input, hidden[, projection]): by shape where shapes differ, else by
    the words in their names, else in declaration order."""
    ih = tuple(torch_shapes[roles["weight_ih"]])
    hh = tuple(torch_shapes[roles["weight_hh"]])
    if ih != hh and len(matrices) == 2:
        by_shape = sorted(matrices, key=lambda n: tuple(theirs[n]) != ih)
        if tuple(theirs[by_shape[0]]) == ih:
            return by_shape
    return sorted(matrices, key=lambda n: _role_rank(n, matrices))


def _role_rank(name: str, names: list[str]) -> tuple[int, int]:
    words = set(_words(name)) | {w.rstrip("0123456789") for w in _words(name)}
    rank = 0 if words & INPUT_WORDS else 1 if words & HIDDEN_WORDS else 2
    if "hr" in words or "proj" in words:
        rank = 3
    return rank, names.index(name)
