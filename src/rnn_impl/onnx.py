"""The drop-ins in ONNX, with a dynamic sequence length: what ``torch.ops.rnn_impl.stack`` and
``layer`` (:mod:`rnn_impl.ops`) are in ONNX's own ``RNN``, ``GRU`` and ``LSTM`` operators
(opset 18).

Example::

    >>> import rnn_impl, rnn_impl.onnx
    >>> from torch.export import Dim
    >>> program = torch.onnx.export(
    ...     model, (x,), dynamo=True,
    ...     dynamic_shapes=({0: Dim("seq", min=2)},),
    ...     custom_translation_table=rnn_impl.onnx.TRANSLATIONS,
    ... )

ONNX's conventions differ from torch's: its GRU takes the gate blocks in the order ``z, r,
n`` (torch: ``r, z, n``) and applies the reset gate after the hidden product as torch does
with ``linear_before_reset=1``; its LSTM takes ``i, o, f, g`` (torch: ``i, f, g, o``). An
LSTM with ``proj_size > 0`` has no ONNX operator (ONNX's LSTM has no projection): exporting
one raises. ONNX Runtime computes in its own order, so its results are torch's within float
rounding, not bit for bit.

Needs ``onnxscript`` (which ``torch.onnx.export(..., dynamo=True)`` needs anyway). The
TorchScript exporter (``dynamo=False``) traces the eager layer instead: its graph is unrolled
to the traced length.
"""

from __future__ import annotations

from typing import Any

import torch
from onnxscript import opset18

import rnn_impl.ops  # noqa: F401 (registers the operations translated here)

op: Any = opset18
"""ONNX's operators (opset 18); typed loosely: the exporter takes Python constants where
onnxscript's annotations ask for tensors."""

ORDER = {"GRU": (1, 0, 2), "LSTM": (0, 3, 1, 2)}
"""Torch's gate blocks, by index, in the order ONNX's operator takes them."""


def _blocks(w: Any, mode: str) -> Any:
    """``w`` (gate blocks stacked on dimension 0, in torch's order) in ONNX's order."""
    if mode not in ORDER:
        return w
    rows = w.shape[0] // len(ORDER[mode])
    parts = [op.Slice(w, [i * rows], [(i + 1) * rows], [0]) for i in ORDER[mode]]
    return op.Concat(*parts, axis=0)


def layer(
    x: Any,
    h: Any,
    c: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any,
    b_hh: Any,
    w_hr: Any,
    mode: str,
    reverse: bool,
    cell: bool,
    requires_grad: list[bool],
    grad_mode: bool,
    record: bool = False,
) -> list[Any]:
    """``torch.ops.rnn_impl.layer`` (one layer and direction, or a cell's step) as one ONNX
    recurrent operator over one direction (``requires_grad`` and ``grad_mode`` choose eager's
    path in torch; ONNX has one; ``record``, for a compiled backward, is never set in an
    exported program)."""
    if w_hr is not None:
        raise NotImplementedError(
            "ONNX's LSTM has no projection: an LSTM with proj_size > 0 cannot be exported to "
            "ONNX; export it with proj_size=0, or run it with torch.export instead"
        )
    bias = None
    if b_ih is not None:
        bias = op.Unsqueeze(op.Concat(_blocks(b_ih, mode), _blocks(b_hh, mode), axis=0), [0])
    args = (
        op.Unsqueeze(x, [0]) if cell else x,
        op.Unsqueeze(_blocks(w_ih, mode), [0]),
        op.Unsqueeze(_blocks(w_hh, mode), [0]),
        bias,
        None,  # sequence_lens: every sequence runs to the end
        op.Unsqueeze(h, [0]),
    )
    options = {"direction": "reverse" if reverse else "forward", "hidden_size": w_hh.shape[1]}
    if mode == "LSTM":
        y, y_h, y_c = op.LSTM(*args, op.Unsqueeze(c, [0]), **options)
        finals = [op.Squeeze(y_h, [0]), op.Squeeze(y_c, [0])]
    elif mode == "GRU":
        y, y_h = op.GRU(*args, linear_before_reset=1, **options)
        finals = [op.Squeeze(y_h, [0])]
    else:
        activation = "Tanh" if mode == "RNN_TANH" else "Relu"
        y, y_h = op.RNN(*args, activations=[activation], **options)
        finals = [op.Squeeze(y_h, [0])]
    return finals if cell else [op.Squeeze(y, [1]), *finals]


def stack(
    tensors: list[Any],
    present: list[bool],
    noise: list[Any],
    mode: str,
    num_layers: int,
    bidirectional: bool,
    requires_grad: list[bool],
    grad_mode: bool,
    autocast: Any = None,
    record: bool = False,
) -> list[Any]:
    """``torch.ops.rnn_impl.stack`` (a module's layers) as ONNX: each layer and direction
    through :func:`layer`, the directions joined and the layers chained as in
    :func:`rnn_impl._recurrence.run_stack`."""
    if autocast is not None:
        raise NotImplementedError(
            "a module traced under autocast has no ONNX translation here (ONNX's operators "
            "compute in their inputs' dtype): export it outside autocast"
        )
    found = iter(tensors)
    x, h, c, *weights = [next(found) if here else None for here in present]
    directions = 2 if bidirectional else 1
    finals: list[list[Any]] = [[], []]
    layer_input = x
    for index_layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            index = index_layer * directions + direction
            h_i, c_i = (None if s is None else op.Gather(s, index, axis=0) for s in (h, c))
            w_ih, w_hh, b_ih, b_hh, w_hr = weights[5 * index : 5 * index + 5]
            out, *final = layer(
                layer_input,
                h_i,
                c_i,
                w_ih,
                w_hh,
                b_ih,
                b_hh,
                w_hr,
                mode,
                direction == 1,
                False,
                [],
                False,
            )
            outputs.append(out)
            for kept, f in zip(finals, final):
                kept.append(op.Unsqueeze(f, [0]))
        layer_input = outputs[0] if directions == 1 else op.Concat(*outputs, axis=-1)
        if noise and index_layer < num_layers - 1:
            layer_input = op.Mul(layer_input, noise[index_layer])
    return [layer_input, *(op.Concat(*kept, axis=0) for kept in finals if kept)]


def dropout_noise(like: Any, p: float) -> Any:
    """``torch.ops.rnn_impl.dropout_noise`` (a module exported in training mode): ONNX's own
    draws, ``(uniform < 1 - p) / (1 - p)``, made at run time (ONNX Runtime's generator, not
    torch's)."""
    keep = op.CastLike(1 - p, like)
    return op.Div(op.CastLike(op.Less(op.RandomUniformLike(like), keep), like), keep)


TRANSLATIONS = {
    torch.ops.rnn_impl.stack.default: stack,
    torch.ops.rnn_impl.layer.default: layer,
    torch.ops.rnn_impl.dropout_noise.default: dropout_noise,
}
"""``custom_translation_table`` for ``torch.onnx.export(..., dynamo=True)``."""
