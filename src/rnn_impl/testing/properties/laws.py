"""Metamorphic laws: relations between the implementation's own results, no oracle needed.

They run in float64. A correct implementation obeys them up to rounding (a batched and a
per-sample run may sum in other orders), judged by the example's own sensitivity: each
compared row within what rounding in any order allows the result it stands for
(:mod:`rnn_impl.testing.sensitivity`, the rule of :func:`~rnn_impl.testing.tolerances.judge`).
A mistake in layout, direction or state handling breaks them by a share of the values.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import hypothesis.strategies as st
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from rnn_impl.testing.cases import ModuleConfig, make_inputs
from rnn_impl.testing.covering import SHORT_SEQ_LEVELS
from rnn_impl.testing.oracle import Implementation, build_from, build_pair, sub_reference
from rnn_impl.testing.properties._core import ZERO, Measure, assert_within, forward, register
from rnn_impl.testing.sensitivity import Allowed, module_sensitivity
from rnn_impl.testing.strategies import Example

LAW = {"dtypes": (torch.float64,)}


Bound = Callable[[], tuple[Tensor, Tensor]]
"""What rounding allows a result, element by element: ``(spread, floor)``, on demand."""


def _close(
    example: Example, what: str, actual: Tensor, expected: Tensor, law: str, bound: Bound
) -> Measure:
    return assert_within(example, what, actual, expected, bound, against=law, own=True)


def _setup(implementation: Implementation, example: Example):
    """``(reference, impl, inputs, allowed)``: ``allowed(name, change)`` is what rounding
    allows the example's ``output`` or ``state``, changed as the law changes that result."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    inputs = make_inputs(example.config, example.case, example.dtype, example.device)
    found = Allowed(lambda: module_sensitivity(reference, example))

    def allowed(name: str, change: Callable[[Tensor], Tensor] = lambda t: t) -> Bound:
        return lambda: found(name, lambda t: change(t.to(example.device)))

    return reference, impl, inputs, allowed


def _part(h0: Tensor | None, index: Any) -> Tensor | None:
    """``h0[index]``, or None for None: a run without h0 starts every part from zeros too."""
    return None if h0 is None else h0[index]


@torch.no_grad()
def _call(example: Example, module: nn.Module, x: Tensor | PackedSequence, h0: Tensor | None):
    """``module(x[, h0])`` (an LSTM's h0 joined with c0), h0 left out where it is None."""
    return forward(example, module, *([x] if h0 is None else [x, h0]))


def _layer_names(config: ModuleConfig) -> list[str]:
    """Parameter names of a single-layer module with ``config``'s bias, projection and
    directions."""
    kinds = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if config.bias else [])
    kinds += ["weight_hr"] if config.proj_size else []
    suffixes = ["", "_reverse"] if config.bidirectional else [""]
    return [f"{kind}_l0{suffix}" for suffix in suffixes for kind in kinds]


@register("batch_independence", "laws", "law", "numerics", draw={"layout": "batched"}, **LAW)
def batch_independence(implementation: Implementation, example: Example) -> Measure:
    """Permuting the batch (input and h0) permutes output and h_n the same way."""
    _, impl, inputs, allowed = _setup(implementation, example)
    bdim = 0 if example.config.batch_first else 1
    batch = inputs.padded.size(bdim)
    perm = list(range(batch))
    random.Random(example.case.seed).shuffle(perm)
    index = torch.tensor(perm, dtype=torch.long, device=example.device)
    h0 = inputs.h0
    out, h_n = _call(example, impl, inputs.padded, h0)
    permuted = _part(h0, (slice(None), index))
    out_p, h_p = _call(example, impl, inputs.padded.index_select(bdim, index), permuted)
    law = "the unpermuted run, permuted"
    state = f"permuted {example.config.kind.state_name}"
    bound = allowed("output", lambda t: t.index_select(bdim, index))
    worst = _close(example, "permuted output", out_p, out.index_select(bdim, index), law, bound)
    bound = allowed("state", lambda t: t.index_select(1, index))
    return worst.merge(_close(example, state, h_p, h_n.index_select(1, index), law, bound))


@register(
    "unbatched_is_batch_of_one", "laws", "law", "numerics", draw={"layout": "unbatched"}, **LAW
)
def unbatched_is_batch_of_one(implementation: Implementation, example: Example) -> Measure:
    """An unbatched call equals a batch of one, squeezed."""
    _, impl, inputs, allowed = _setup(implementation, example)
    bdim = 0 if example.config.batch_first else 1
    h0 = inputs.h0
    out, h_n = _call(example, impl, inputs.padded, h0)
    out_b, h_b = _call(example, impl, inputs.padded.unsqueeze(bdim), _part(h0, (slice(None), None)))
    law = "a batch of one"
    worst = _close(example, "unbatched output", out, out_b.squeeze(bdim), law, allowed("output"))
    state = f"unbatched {example.config.kind.state_name}"
    return worst.merge(_close(example, state, h_n, h_b.squeeze(1), law, allowed("state")))


@register(
    "batch_first_is_transpose",
    "laws",
    "law",
    "numerics",
    config={"batch_first": st.booleans()},
    draw={"layout": "batched"},
    levels={"batch_first": (False, True)},
    **LAW,
)
def batch_first_is_transpose(implementation: Implementation, example: Example) -> Measure:
    """batch_first=True on transposed input equals batch_first=False, transposed back."""
    reference, impl, inputs, allowed = _setup(implementation, example)
    flipped = replace(example.config, batch_first=not example.config.batch_first)
    same = {name: name for name, _ in reference.named_parameters()}
    other = build_from(implementation, sub_reference(reference, flipped, same))
    h0 = inputs.h0
    out, h_n = _call(example, impl, inputs.padded, h0)
    out_t, h_t = _call(example, other, inputs.padded.transpose(0, 1), h0)
    law = f"batch_first={flipped.batch_first} on the transposed input"
    worst = _close(example, "output", out, out_t.transpose(0, 1), law, allowed("output"))
    state = example.config.kind.state_name
    return worst.merge(_close(example, state, h_n, h_t, law, allowed("state")))


@register(
    "streaming",
    "laws",
    "law",
    "numerics",
    config={"bidirectional": False},
    draw={"layout": "batched", "seq_len": st.integers(2, 12)},
    levels={"seq_len": SHORT_SEQ_LEVELS[1:]},
    passes_state=True,
    **LAW,
)
def streaming(implementation: Implementation, example: Example) -> Measure:
    """Splitting the sequence at k and carrying h_n over equals one whole run."""
    _, impl, inputs, allowed = _setup(implementation, example)
    tdim = 1 if example.config.batch_first else 0
    k = random.Random(example.case.seed).randint(1, example.case.seq_len - 1)
    x = inputs.padded
    out, h_n = _call(example, impl, x, inputs.h0)
    first, h_k = _call(example, impl, x.narrow(tdim, 0, k), inputs.h0)
    second, h_end = _call(example, impl, x.narrow(tdim, k, x.size(tdim) - k), h_k)
    law = f"two runs split at step {k}"
    joined = torch.cat([first, second], tdim)
    worst = _close(example, "output", joined, out, law, allowed("output"))
    state = example.config.kind.state_name
    return worst.merge(_close(example, state, h_end, h_n, law, allowed("state")))


@register(
    "packed_is_each_sequence_alone",
    "laws",
    "law",
    "numerics",
    draw={"layout": "packed_unsorted"},
    **LAW,
)
def packed_is_each_sequence_alone(implementation: Implementation, example: Example) -> Measure:
    """Each sequence of a PackedSequence gives what it gives alone, unbatched and unpadded.

    Drawn unsorted (``enforce_sorted=False``): that is where h0 and h_n must be permuted;
    sorted packing is covered by the differential properties.
    """
    _, impl, inputs, allowed = _setup(implementation, example)
    bf = example.config.batch_first
    h0 = inputs.h0
    packed_out, h_n = _call(example, impl, inputs.input, h0)

    def padded(values: Tensor) -> Tensor:
        packed = PackedSequence(values, *packed_out[1:])
        return pad_packed_sequence(packed, batch_first=bf)[0]

    worst = ZERO
    for b, length in enumerate(example.case.lengths or ()):
        x_b = (inputs.padded[b] if bf else inputs.padded[:, b])[:length]
        out_b, h_b = _call(example, impl, x_b, _part(h0, (slice(None), b)))

        def sequence(values: Tensor, b: int = b, length: int = length) -> Tensor:
            return (values[b] if bf else values[:, b])[:length]

        expected = sequence(padded(packed_out.data))
        law = f"sequence {b} (length {length}) run alone"
        bound = allowed("output", lambda t, pick=sequence: pick(padded(t)))
        worst = worst.merge(_close(example, f"output of sequence {b}", expected, out_b, law, bound))
        state = f"{example.config.kind.state_name} of sequence {b}"
        bound = allowed("state", lambda t, b=b: t[:, b])
        worst = worst.merge(_close(example, state, h_n[:, b], h_b, law, bound))
    return worst


@register(
    "reverse_is_flip_forward_flip",
    "laws",
    "law",
    "numerics",
    config={"num_layers": 1, "bidirectional": True},
    draw={"layout": "batched"},
    **LAW,
)
def reverse_is_flip_forward_flip(implementation: Implementation, example: Example) -> Measure:
    """The reverse direction equals a forward RNN with its weights on the flipped sequence,
    flipped back; the forward direction equals a forward RNN alone."""
    reference, impl, inputs, allowed = _setup(implementation, example)
    config, hidden = example.config, example.config.output_size
    single = replace(config, bidirectional=False, num_layers=1, dropout=0.0)
    tdim = 1 if config.batch_first else 0
    h0 = inputs.h0
    out, h_n = _call(example, impl, inputs.padded, h0)
    worst = ZERO
    for direction, suffix in enumerate(["", "_reverse"]):
        rename = {n: f"{n}{suffix}" for n in _layer_names(single)}
        part = build_from(implementation, sub_reference(reference, single, rename))
        x = inputs.padded.flip(tdim) if suffix else inputs.padded
        out_d, h_d = _call(example, part, x, _part(h0, slice(direction, direction + 1)))
        if suffix:
            out_d = out_d.flip(tdim)
        features = slice(direction * hidden, (direction + 1) * hidden)
        half = out[..., features]
        law = "the " + ("flipped, forward, flipped" if suffix else "forward-only") + " run"
        bound = allowed("output", lambda t, f=features: t[..., f])
        what = f"direction {direction} of output"
        worst = worst.merge(_close(example, what, half, out_d, law, bound))
        state = f"{config.kind.state_name}[{direction}]"
        bound = allowed("state", lambda t, d=direction: t[d])
        worst = worst.merge(_close(example, state, h_n[direction], h_d[0], law, bound))
    return worst


@register(
    "layers_are_a_chain",
    "laws",
    "law",
    "numerics",
    config={"num_layers": st.integers(2, 4)},
    levels={"num_layers": (2, 4)},
    **LAW,
)
def layers_are_a_chain(implementation: Implementation, example: Example) -> Measure:
    """L layers equal a chain of L single-layer RNNs, each fed the previous one's output."""
    reference, impl, inputs, allowed = _setup(implementation, example)
    config = example.config
    directions = config.num_directions
    h0 = inputs.h0
    out, h_n = _call(example, impl, inputs.input, h0)
    x, finals = inputs.input, []
    for layer in range(config.num_layers):
        width = config.input_size if layer == 0 else directions * config.output_size
        single = replace(config, input_size=width, num_layers=1, dropout=0.0)
        rename = {n: n.replace("_l0", f"_l{layer}") for n in _layer_names(single)}
        part = build_from(implementation, sub_reference(reference, single, rename))
        states = slice(layer * directions, (layer + 1) * directions)
        x, h = _call(example, part, x, _part(h0, states))
        finals.append(h)
    law = "a chain of single layers"
    chained = x.data if isinstance(x, PackedSequence) else x
    out = out.data if isinstance(out, PackedSequence) else out
    worst = _close(example, "output", out, chained, law, allowed("output"))
    state = config.kind.state_name
    return worst.merge(_close(example, state, h_n, torch.cat(finals, 0), law, allowed("state")))


@register("h_n_is_last_valid_step", "laws", "law", "numerics", **LAW)
def h_n_is_last_valid_step(implementation: Implementation, example: Example) -> Measure:
    """h_n of the last layer is the output at each sequence's last valid step (forward) and at
    step 0 (reverse); for an LSTM, h_n, not c_n."""
    _, impl, inputs, allowed = _setup(implementation, example)
    config, case = example.config, example.case
    out, h_n = _call(example, impl, inputs.input, inputs.h0)
    batched = (lambda t: t) if case.batched else (lambda t: t.unsqueeze(1))
    if isinstance(out, PackedSequence):
        out, _ = pad_packed_sequence(out, batch_first=False)
    elif not case.batched:
        out, h_n = out.unsqueeze(1), h_n.unsqueeze(1)
    elif config.batch_first:
        out = out.transpose(0, 1)
    lengths = case.lengths or (case.seq_len,) * out.size(1)
    hidden, d = config.output_size, config.num_directions
    worst = ZERO
    for b, length in enumerate(lengths):
        law = f"the output at step {length - 1} of sequence {b}"
        bound = allowed("state", lambda t, b=b: batched(t)[-d, b, :hidden])
        found = h_n[-d, b, :hidden]
        what = f"h_n[-{d}] of sequence {b}"
        worst = worst.merge(_close(example, what, found, out[length - 1, b, :hidden], law, bound))
        if d == 2:
            law = f"the reverse output at step 0 of sequence {b}"
            bound = allowed("state", lambda t, b=b: batched(t)[-1, b, :hidden])
            what = f"h_n[-1] of sequence {b}"
            worst = worst.merge(
                _close(example, what, h_n[-1, b, :hidden], out[0, b, hidden:], law, bound)
            )
    return worst
