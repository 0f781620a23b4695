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
    out, *final = _through_layer(x, state, weights, mode, reverse, False)
    return out, _state(*final)


def compiled_step(x: Tensor, state: Hidden, weights: LayerWeights, mode: str) -> Hidden:
    """A cell's step (``STEPS[mode]`` from the unprojected ``x (B, I)``) as one
    ``torch.ops.rnn_impl.layer`` operation."""
    return _state(*_through_layer(x, state, weights, mode, False, True))


def _through_layer(
    x: Tensor, state: Hidden, weights: LayerWeights, mode: str, reverse: bool, cell: bool
) -> list[Tensor]:
    """:func:`layer` on ``x``, ``state`` and ``weights``, told what eager would see."""
    h, c = state if isinstance(state, tuple) else (state, None)
    tensors = (x, h, c, *weights)
    return layer(*tensors, mode, reverse, cell, *_as_eager(tensors))


def _as_eager(tensors: tuple[Tensor | None, ...]) -> tuple[list[bool], bool]:
    """What eager mode would see of ``tensors``: whether each requires grad, and whether
    grad mode is on. Eager's path, and so its rounding, depends on them (ATen's ``matmul``
    folds a batch-first input into one GEMM only when the weight requires grad), and a
    compiled graph hands an operation tensors that require none."""
    return [t is not None and t.requires_grad for t in tensors], torch.is_grad_enabled()


def dropout(x: Tensor, p: float) -> Tensor:
    """``torch.dropout(x, p, True)``. Traced by ``torch.compile`` or ``torch.export`` on the
    CPU, as ATen computes it there (``x * noise``, the noise ``bernoulli(1 - p) / (1 - p)``)
    with the noise drawn by ``torch.ops.rnn_impl.dropout_noise`` from the global generator
    in eager's order, so that a compiled module's masks are eager's (the compiler's own
    random numbers are not); elsewhere, where eager runs a fused kernel, traced as it is
    (the compiler's masks)."""
    if x.device.type != "cpu" or not torch.compiler.is_compiling():
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


def _results(tensors: list[Any], mode: str, reverse: bool, cell: bool) -> list[Tensor]:
    """What :func:`layer` returns, computed eagerly from its tensor arguments ``[x, h, c,
    w_ih, w_hh, b_ih, b_hh, w_hr]`` (None where absent): a layer's ``[out, *final state]``,
    a cell's step's ``[*state']``."""
    x, h, c, *weights = tensors
    state, w = _state(h, c), LayerWeights(*weights)
    if cell:
        return _states(STEPS[mode](x, state, w, False))
    out, final = eager_layer(x, state, w, mode, reverse)
    return [out, *_states(final)]


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
    requires_grad: list[bool],
    grad_mode: bool,
) -> list[Tensor]:
    """``[out (T, B, H_out), h_last (B, H_out)]``, and ``c_last (B, H)`` when ``c`` is given
    (an LSTM): :func:`eager_layer`. A ``cell``'s step from ``x (B, I)``: ``[h']`` (``[h',
    c']``). It runs as eager mode would, on tensors that require grad as ``requires_grad``
    says (one flag per tensor argument) and in ``grad_mode`` (:func:`_as_eager`)."""
    given = (x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr)
    full = [
        None if t is None else t.detach().requires_grad_(f) for t, f in zip(given, requires_grad)
    ]
    with _autograd_inside(), torch.set_grad_enabled(grad_mode):
        results = _results(full, mode, reverse, cell)
    return _distinct([t.detach() for t in results], [x, h, *([] if c is None else [c])])


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
    requires_grad: list[bool],
    grad_mode: bool,
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
        results = _results(full, mode, reverse, cell)
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
    ctx.options = inputs[8:11]  # mode, reverse, cell


def _backward(ctx: Any, grads: list[Tensor]) -> tuple[Tensor | None, ...]:
    saved = list(ctx.saved_tensors)
    flags = [need for need, here in zip(ctx.needs_input_grad[:8], ctx.present) if here]
    found = iter(layer_backward(list(grads), saved, ctx.present, flags, *ctx.options))
    per_input = [next(found) if need else None for need in flags]
    return (*_unpack(per_input, ctx.present), None, None, None, None, None)


layer.register_autograd(_backward, setup_context=_setup_context)


def _unpack(values: list[Any], present: list[bool]) -> list[Any]:
    """``values`` spread over the positions ``present`` marks, None elsewhere."""
    found = iter(values)
    return [next(found) if here else None for here in present]


def _state(h: Tensor, c: Tensor | None = None) -> Hidden:
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
    torch._C.DispatchKey.ADInplaceOrView,
)


def _autograd_inside() -> Any:
    """A guard under which an operation's kernel (which the dispatcher runs below autograd,
    and in a compiled graph below ``ADInplaceOrView`` too) dispatches as eager code does:
    autograd records in grad mode, and a view of a tensor that requires grad requires grad
    (ATen's ``matmul`` folds a batch-first input into one GEMM only then)."""
    exclude = torch._C._dispatch_tls_local_exclude_set()
    for key in _AUTOGRAD:
        exclude = exclude.remove(key)
    include = torch._C._dispatch_tls_local_include_set().add(torch._C.DispatchKey.ADInplaceOrView)
    return torch._C._ForceDispatchKeyGuard(include, exclude)
