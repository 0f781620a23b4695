"""One padded layer and direction (or a cell's step) as an operation of its own,
``torch.ops.rnn_impl.layer``, for torch's compilers; dropout's noise as another; and the eager
layer they run. Importing this module registers the
operations: a program saved by ``torch.export.save`` needs ``import rnn_impl.ops`` before
``torch.export.load`` (building a drop-in imports it too).

Under ``torch.compile`` and ``torch.export``, tracing the layer would unroll its time loop:
compile time grows with the sequence, every new length recompiles, and the compiler's own
kernels round differently from eager. Traced, a layer is instead one ``custom_op`` whose
fake kernel states only shapes (the sequence length stays symbolic), and whose kernel, at
run time, is the eager layer (:func:`eager_layer`). Its gradient is a second operation,
``torch.ops.rnn_impl.layer_backward``, whose kernel runs the eager layer again with autograd
and asks autograd for the gradients: the same graph as eager's, so the same gradients bit for
bit. Both are opaque to the compiler, so a compiled or exported drop-in computes what eager
computes; double backward of a compiled module is not supported (eager's is).

Eager code never meets these operations: autograd, ``torch.func``, forward-mode AD, autocast,
tracing and the meta device keep the eager paths they are tested on.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnn_impl import _bptt
from rnn_impl._steps import ACTIVATIONS, STEPS, Hidden, LayerWeights, padded_steps


def eager_layer(
    x: Tensor, state: Hidden, weights: LayerWeights, mode: str, reverse: bool
) -> tuple[Tensor, Hidden]:
    """``x (T, B, I)`` from ``state`` -> ``(out (T, B, H_out), final state)``: the fast path
    (:mod:`rnn_impl._bptt`) where it applies, else step by step."""
    activation = ACTIVATIONS.get(mode)
    if (
        activation is not None
        and isinstance(state, Tensor)
        and _bptt.applies(x, state, weights, activation)
    ):
        return _bptt.padded_layer(x, state, weights, activation, reverse)
    return padded_steps(x, state, weights, STEPS[mode], reverse)


def traced() -> bool:
    """Whether a layer is being traced by ``torch.compile`` or ``torch.export`` and should be
    one :func:`layer` operation: not under autocast (whose casts the eager layer makes per
    operation)."""
    return torch.compiler.is_compiling() and not torch._C._is_any_autocast_enabled()


def compiled_layer(
    x: Tensor, state: Hidden, weights: LayerWeights, mode: str, reverse: bool
) -> tuple[Tensor, Hidden]:
    """:func:`eager_layer` as one ``torch.ops.rnn_impl.layer`` operation."""
    h, c = state if isinstance(state, tuple) else (state, None)
    out, *final = layer(x, h, c, *weights, mode, reverse, False)
    return out, _state(*final) if c is not None else final[0]


def compiled_step(x: Tensor, state: Hidden, weights: LayerWeights, mode: str) -> Hidden:
    """A cell's step (``STEPS[mode]`` from the unprojected ``x (B, I)``) as one
    ``torch.ops.rnn_impl.layer`` operation."""
    h, c = state if isinstance(state, tuple) else (state, None)
    final = layer(x, h, c, *weights, mode, False, True)
    return _state(*final) if c is not None else final[0]


def dropout(x: Tensor, p: float) -> Tensor:
    """``torch.dropout(x, p, True)`` as ATen computes it on the CPU (``x * noise``, the noise
    ``bernoulli(1 - p) / (1 - p)``), its noise drawn by ``torch.ops.rnn_impl.dropout_noise``
    from the global generator in eager's order, so that a compiled module's masks are
    eager's (the compiler's own random numbers are not). Elsewhere than on the CPU, where
    eager runs a fused kernel, ``torch.dropout`` itself (the compiler's masks)."""
    if x.device.type != "cpu":
        return torch.dropout(x, p, True)
    if p == 0:
        return x
    if p == 1:
        return x * torch.zeros((), dtype=x.dtype, device=x.device)
    return x * dropout_noise(x.detach(), p)


@torch.library.custom_op(
    "rnn_impl::dropout_noise", mutates_args=(), tags=(torch.Tag.nondeterministic_seeded,)
)
def dropout_noise(like: Tensor, p: float) -> Tensor:
    """``bernoulli(1 - p) / (1 - p)`` shaped like ``like`` (whose values it only waits for,
    so that the draws keep the layers' order)."""
    return torch.empty_like(like).bernoulli_(1 - p).div_(1 - p)


@dropout_noise.register_fake
def _dropout_noise_fake(like: Tensor, p: float) -> Tensor:
    return torch.empty_like(like)


def _eager(
    x: Tensor, state: Hidden, weights: LayerWeights, mode: str, reverse: bool, cell: bool
) -> tuple[Tensor | None, Hidden]:
    """``(out, final state)`` of a layer; ``(None, state')`` of a cell's step."""
    if cell:
        return None, STEPS[mode](x, state, weights, False)
    return eager_layer(x, state, weights, mode, reverse)


@torch.library.custom_op("rnn_impl::layer", mutates_args=())
def layer(
    x: Tensor,
    h: Tensor,
    c: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    w_hr: Tensor | None,
    mode: str,
    reverse: bool,
    cell: bool,
) -> list[Tensor]:
    """``[out (T, B, H_out), h_last (B, H_out)]``, and ``c_last (B, H)`` when ``c`` is given
    (an LSTM): :func:`eager_layer`. A ``cell``'s step from ``x (B, I)``: ``[h']`` (``[h',
    c']``)."""
    with torch.no_grad():
        weights = LayerWeights(w_ih, w_hh, b_ih, b_hh, w_hr)
        out, final = _eager(x, _state(h, c), weights, mode, reverse, cell)
    results = _states(final) if out is None else [out, *_states(final)]
    return _distinct(results, [x, h, *([] if c is None else [c])])


@layer.register_fake
def _layer_fake(
    x: Tensor,
    h: Tensor,
    c: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    w_hr: Tensor | None,
    mode: str,
    reverse: bool,
    cell: bool,
) -> list[Tensor]:
    final = [t.new_empty(t.shape) for t in (h, c) if t is not None]
    return final if cell else [x.new_empty((x.shape[0], x.shape[1], h.shape[-1])), *final]


@torch.library.custom_op("rnn_impl::layer_backward", mutates_args=())
def layer_backward(
    grads: list[Tensor],
    inputs: list[Tensor],
    present: list[bool],
    needs: list[bool],
    mode: str,
    reverse: bool,
    cell: bool,
) -> list[Tensor]:
    """The gradients of ``<grads, layer(...)>`` with respect to each tensor input that
    ``needs`` one: ``inputs`` are :func:`layer`'s tensor arguments that are not None
    (``present`` marks which of ``x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr`` they are). The eager
    layer runs again with autograd, which computes them as it does in eager mode."""
    leaves = [t.detach().requires_grad_(need) for t, need in zip(inputs, needs)]
    full = _unpack(leaves, present)
    with _autograd_inside(), torch.enable_grad():
        out, final = _eager(
            full[0], _state(full[1], full[2]), LayerWeights(*full[3:]), mode, reverse, cell
        )
    results = _states(final) if out is None else [out, *_states(final)]
    wanted = [t for t in leaves if t.requires_grad]
    found = torch.autograd.grad(results, wanted, grads, allow_unused=True)
    results = [torch.zeros_like(t) if g is None else g for g, t in zip(found, wanted)]
    return _distinct(results, [*grads, *inputs])


@layer_backward.register_fake
def _layer_backward_fake(
    grads: list[Tensor],
    inputs: list[Tensor],
    present: list[bool],
    needs: list[bool],
    mode: str,
    reverse: bool,
    cell: bool,
) -> list[Tensor]:
    return [t.new_empty(t.shape) for t, need in zip(inputs, needs) if need]


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    tensors = inputs[:8]
    ctx.present = [t is not None for t in tensors]
    ctx.save_for_backward(*[t for t in tensors if t is not None])
    ctx.options = inputs[8:]


def _backward(ctx: Any, grads: list[Tensor]) -> tuple[Tensor | None, ...]:
    saved = list(ctx.saved_tensors)
    flags = [need for need, here in zip(ctx.needs_input_grad[:8], ctx.present) if here]
    found = iter(layer_backward(list(grads), saved, ctx.present, flags, *ctx.options))
    per_input = [next(found) if need else None for need in flags]
    return (*_unpack(per_input, ctx.present), None, None, None)


layer.register_autograd(_backward, setup_context=_setup_context)


def _unpack(values: list[Any], present: list[bool]) -> list[Any]:
    """``values`` spread over the positions ``present`` marks, None elsewhere."""
    found = iter(values)
    return [next(found) if here else None for here in present]


def _state(h: Tensor, c: Tensor | None) -> Hidden:
    return h if c is None else (h, c)


def _states(state: Hidden) -> list[Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def _distinct(results: list[Tensor], inputs: list[Tensor]) -> list[Tensor]:
    """``results``, each copied where it shares memory with an input or an earlier result (an
    operation's outputs may alias neither: a final state is a view of the output, one
    gradient serves both biases)."""
    seen = {t.untyped_storage().data_ptr() for t in inputs}
    distinct = []
    for t in results:
        where = t.untyped_storage().data_ptr()
        distinct.append(t.clone() if where in seen else t)
        seen.add(where)
    return distinct


_AUTOGRAD = (
    torch._C.DispatchKey.AutogradFunctionality,
    torch._C.DispatchKey.AutogradOther,
    torch._C.DispatchKey.AutogradNestedTensor,
)


def _autograd_inside() -> Any:
    """A guard under which autograd records again inside an operation's kernel (which the
    dispatcher runs below autograd): the thread's excluded dispatch keys without autograd's."""
    exclude = torch._C._dispatch_tls_local_exclude_set()
    for key in _AUTOGRAD:
        exclude = exclude.remove(key)
    return torch._C._ForceDispatchKeyGuard(torch._C._dispatch_tls_local_include_set(), exclude)
