"""One padded layer and direction as a ``torch.autograd.Function`` with a hand-written
backward through time (BPTT): the fast path of :mod:`rnn_impl._recurrence`, for padded input.

Forward, for ``x (T, B, I)`` and ``h[-1] = h0 (B, H)``::

    pre    = linear(x, W_ih, b_ih)                        # one GEMM over all steps
    out[t] = act((h[t-1] @ W_hh^T + b_hh) + pre[t])       # addmm into a carry, add_, act

ATen's operations in ATen's order, so the result is bit-identical to nn.RNN on CPU; each step
is written over ``pre[t]`` (``pre[t] + linear`` equals ``linear + pre[t]`` bit for bit), so
the output needs no memory of its own and no final ``stack``. Every operand handed to BLAS
starts at a multiple of :data:`ALIGNMENT` bytes, as ATen's fresh per-step tensors do: where a
step of ``B*H`` elements is not a multiple of it, the steps go to a padded buffer instead
(:func:`aligned_steps`), copied out once at the end.

Backward, with ``g[t]`` the gradient reaching ``out[t]`` (and ``h_last``'s added at the last
step)::

    dz[t]  = act'(out[t]) * (g[t] + dz[t+1] @ W_hh)       # mm, add_, *_backward per step
    dx     = dz @ W_ih,  d W_ih = dz^T x,  d W_hh = dz^T [h0, out[:-1]]   # one GEMM each
    d h0   = dz[0] @ W_hh,  d b_ih = d b_hh = dz.sum((0, 1))

(the reverse direction runs time the other way; the backward's loop works in place over
``dz``, which starts as a copy of ``g`` in aligned steps). Each step's ``dz`` is autograd's
bit for bit, so d/dx and d/dh0 are nn.RNN's too; the weight gradients sum over steps in
another order. The two time loops run as TorchScript functions, without Python's
per-operation overhead, under ``torch.inference_mode()``, which skips autograd's
per-operation bookkeeping; every buffer they write is allocated outside it, so no inference
tensor escapes. With ``create_graph=True`` the backward runs the same steps as
ordinary differentiable operations instead, which autograd records, so double backward works.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_impl._steps import STEPS, Activation, LayerWeights, padded_steps

RELU: dict[Activation, bool] = {torch.tanh: False, torch.relu: True}
"""The activations this path knows, as the ``relu`` flag of its loops."""

SCRIPTED = True
"""Run the time loops as TorchScript functions (compiled on first use): the same operations,
without Python's per-operation overhead. False runs them as Python."""

INFERENCE_MODE = True
"""Run the time loops under ``torch.inference_mode()``. False runs them in the caller's grad
mode (for comparison in the benchmarks)."""


def applies(x: Tensor, h0: Tensor, weights: LayerWeights, activation: Activation) -> bool:
    """Whether :func:`padded_layer` may stand in for the step-by-step autograd loop.

    Not when ``h0`` and ``W_hh`` differ in dtype (ordinary operations raise nn.RNN's error
    for that; ``out=`` variants word it differently); not for gradients in float16 / bfloat16
    on the CPU, where every rounding shows and the step-by-step loop reproduces nn.RNN's
    gradients operation for operation (a sum over all steps at once rounds differently from
    autograd's step-by-step accumulation; on CUDA, nn.RNN is cuDNN, which accumulates over
    steps in float32 as this path's single GEMMs do); not under ``torch.func`` transforms
    (their batched tensors cannot be written into plain buffers), ``torch.jit.trace`` (which
    should record ordinary operations), ``torch.compile`` and ``torch.export`` (their fake
    tensors have no memory to align or write into), forward-mode AD (the Function has no
    ``jvp``) or autocast (which casts the operands of ``linear`` but not of ``out=``
    operations; the step-by-step loop runs ATen's ``linear`` per step, so autocast treats it
    as nn.RNN).
    """
    return (
        activation in RELU
        and h0.dtype == weights[1].dtype
        and not torch._C._is_any_autocast_enabled()
        and not (
            x.device.type == "cpu"
            and x.dtype in (torch.float16, torch.bfloat16)
            and _needs_graph(x, h0, weights)
        )
        and not torch.jit.is_tracing()
        and not torch.compiler.is_compiling()
        and torch._C._functorch.peek_interpreter_stack() is None
        and torch.autograd.forward_ad._current_level < 0
    )


def _needs_graph(x: Tensor, h0: Tensor, weights: LayerWeights) -> bool:
    return torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, h0, *weights)
    )


def padded_layer(
    x: Tensor,
    h0: Tensor,
    weights: LayerWeights,
    activation: Activation,
    reverse: bool,
) -> tuple[Tensor, Tensor]:
    """``x (T, B, I)``, ``h0 (B, H)`` -> ``(out (T, B, H), h_last (B, H))``, in time order.

    Through :class:`LayerFunction` when autograd needs a graph, else the bare forward loop.
    """
    relu = RELU[activation]
    if _needs_graph(x, h0, weights):
        return LayerFunction.apply(x, h0, *weights[:4], relu, reverse)
    out = _project_and_loop(x, h0, weights, relu, reverse)
    return out, out[0 if reverse else -1]


def _project_and_loop(
    x: Tensor, h0: Tensor, weights: LayerWeights, relu: bool, reverse: bool
) -> Tensor:
    """The forward of one layer and direction, ``out (T, B, H)`` contiguous; see the module
    docstring. The steps are written over the projection where its steps are aligned, else
    into :func:`aligned_steps` and copied out once at the end."""
    w_ih, w_hh, b_ih, b_hh = weights[:4]
    pre = F.linear(x, w_ih, b_ih).detach().contiguous()
    in_place = steps_aligned(pre)
    out = pre if in_place else aligned_steps(pre)
    with _loop_mode():
        _loop(forward_steps)(pre, out, h0, w_hh, b_hh, relu, reverse, in_place)
    return out.contiguous()


ALIGNMENT = 64
"""Bytes. ATen's CPU allocator starts every tensor at a multiple of 64 bytes, so each step's
state in nn.RNN's loop is a fresh, aligned tensor. MKL's GEMM may round differently for
operands that start elsewhere (seen on AMD EPYC with AVX-512: a view at a byte offset that is
not a multiple of 16), so every operand this path hands BLAS starts at a multiple of it too."""


def is_aligned(t: Tensor) -> bool:
    """Whether ``t``'s data starts at a multiple of :data:`ALIGNMENT` bytes."""
    return t.data_ptr() % ALIGNMENT == 0


def steps_aligned(t: Tensor) -> bool:
    """Whether every step ``t[i]`` of a contiguous ``(T, B, H)`` tensor starts aligned."""
    return is_aligned(t) and (t.size(1) * t.size(2) * t.element_size()) % ALIGNMENT == 0


def aligned_steps(like: Tensor) -> Tensor:
    """An uninitialised ``(T, B, H)`` view shaped like ``like`` whose every step starts at a
    multiple of :data:`ALIGNMENT` bytes: steps of a ``(T, S)`` buffer, ``S >= B*H`` rounded up
    to the alignment. Not contiguous when ``S > B*H``."""
    size = like.size(1) * like.size(2)
    per = ALIGNMENT // like.element_size()
    padded = -(-size // per) * per
    buffer = like.new_empty((like.size(0), padded))
    return buffer.narrow(1, 0, size).view(like.shape)


def aligned(t: Tensor) -> Tensor:
    """``t`` where it starts aligned, else an aligned copy of it."""
    return t if is_aligned(t) else t.clone(memory_format=torch.contiguous_format)


class LayerFunction(torch.autograd.Function):
    """``(x, h0, W_ih, W_hh, b_ih, b_hh, relu, reverse) -> (out, h_last)``.

    ``h_last`` is a copy of the last step, so that its gradient arrives on its own rather
    than as a ``(T, B, H)`` tensor of zeros around one step. ``out`` is kept for the backward
    without ``save_for_backward``'s version check: nn.RNN's output may be modified in place
    before ``backward()``, and when it was, the backward recomputes it (as it does, through
    differentiable operations, when ``create_graph=True`` asks for double backward).
    See the module docstring.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        h0: Tensor,
        w_ih: Tensor,
        w_hh: Tensor,
        b_ih: Tensor | None,
        b_hh: Tensor | None,
        relu: bool,
        reverse: bool,
    ) -> tuple[Tensor, Tensor]:
        weights = LayerWeights(w_ih, w_hh, b_ih, b_hh)
        out = _project_and_loop(x, h0, weights, relu, reverse)
        ctx.save_for_backward(x, h0, w_ih, w_hh, b_ih, b_hh)
        ctx.out, ctx.version = out.detach(), out._version
        ctx.relu, ctx.reverse = relu, reverse
        return out, out[0 if reverse else -1].clone()

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad_out: Tensor, grad_last: Tensor
    ) -> tuple[Tensor | None, ...]:
        x, h0, w_ih, w_hh, b_ih, b_hh = ctx.saved_tensors
        weights, relu, reverse = LayerWeights(w_ih, w_hh, b_ih, b_hh), ctx.relu, ctx.reverse
        if torch.is_grad_enabled():
            step = STEPS["RNN_RELU" if relu else "RNN_TANH"]
            out = padded_steps(x, h0, weights, step, reverse)[0]
            dz = backward_steps_graph(grad_out, grad_last, out, w_hh, relu, reverse)
        else:
            out = ctx.out
            if out._version != ctx.version:
                out = _project_and_loop(x, h0, weights, relu, reverse)
            steps = aligned_steps(grad_out)
            steps.copy_(grad_out)
            with _loop_mode():
                _loop(backward_steps)(steps, grad_last, out, w_hh, relu, reverse)
            dz = steps.contiguous()
        needs = ctx.needs_input_grad
        # every GEMM operand aligned (see ALIGNMENT): a step of dz or out at an offset is copied
        first, rest = (dz[-1], dz[:-1]) if reverse else (dz[0], dz[1:])
        first = aligned(first)
        flat = dz.flatten(0, 1)
        grads: list[Tensor | None] = [None] * 8
        if needs[0]:
            grads[0] = torch.matmul(dz, w_ih)
        if needs[1]:
            grads[1] = first @ w_hh
        if needs[2]:
            grads[2] = flat.t() @ x.flatten(0, 1)
        if needs[3]:
            before = aligned(out[1:] if reverse else out[:-1])
            rest = aligned(rest)
            grads[3] = torch.addmm(first.t() @ h0, rest.flatten(0, 1).t(), before.flatten(0, 1))
        if needs[4] or needs[5]:
            # one tensor for both: autograd copies a gradient it is handed twice
            grads[4] = grads[5] = dz.sum((0, 1))
        return tuple(grads)


def forward_steps(
    pre: Tensor,
    out: Tensor,
    h0: Tensor,
    w_hh: Tensor,
    b_hh: Optional[Tensor],  # noqa: UP045 (TorchScript reads this annotation)
    relu: bool,
    reverse: bool,
    in_place: bool,
) -> Tensor:
    """The forward loop: ``out[t] = act(pre[t] + linear(h, W_hh, b_hh))``, with ``linear``
    an ``addmm`` into a carry; ``pre[t] + linear == linear + pre[t]`` bit for bit (addition
    commutes), which is ATen's cell. ``in_place``: ``out`` is ``pre``, each step written over
    its own projection. ``b_hh`` is expanded to ``(B, H)`` once, so that the copy ``addmm``
    makes of it into the carry before the GEMM (as it does in nn.RNN's ``linear``) is a plain
    one rather than a broadcast."""
    w_t = w_hh.t()
    h = h0
    carry = torch.empty_like(h0, memory_format=torch.contiguous_format)
    bias = None if b_hh is None else b_hh.expand_as(carry).contiguous()
    steps = pre.unbind(0)
    outs = steps if in_place else out.unbind(0)
    for i in range(len(steps)):
        t = len(steps) - 1 - i if reverse else i
        o = outs[t]
        if bias is None:
            torch.mm(h, w_t, out=carry)
        else:
            torch.addmm(bias, h, w_t, out=carry)
        if in_place:
            o.add_(carry)
        else:
            torch.add(steps[t], carry, out=o)
        h = o.relu_() if relu else o.tanh_()
    return out


def backward_steps(
    dz: Tensor, grad_last: Tensor, out: Tensor, w_hh: Tensor, relu: bool, reverse: bool
) -> Tensor:
    """``dz (T, B, H)``, which holds the gradient reaching each ``out[t]`` from above, becomes
    the gradient of each step's pre-activation, from the last step back; returns ``dz``.

    Per step, in place over ``dz[t]``: the gradient from step ``t+1`` (at the last step,
    ``grad_last``) is added, as autograd does: ``mm`` into an aligned carry, then ``add_``
    (an ``addmm_`` would round differently: BLAS may accumulate into its addend inside the
    product); then ATen's ``tanh_backward`` / ``threshold_backward``, the derivative autograd
    uses for nn.RNN (a hand-written ``1 - out**2`` rounds differently where ATen's kernel
    fuses multiply-adds). So ``dz`` is nn.RNN's bit for bit.
    """
    outs, dzs = out.unbind(0), dz.unbind(0)
    prev = grad_last
    carry = torch.empty_like(grad_last, memory_format=torch.contiguous_format)
    for i in range(len(outs)):
        t = i if reverse else len(outs) - 1 - i
        g = dzs[t]
        if i == 0:
            g.add_(grad_last)
        else:
            g.add_(torch.mm(prev, w_hh, out=carry))
        if relu:
            prev = torch.ops.aten.threshold_backward(g, outs[t], 0.0, grad_input=g)
        else:
            prev = torch.ops.aten.tanh_backward(g, outs[t], grad_input=g)
    return dz


def backward_steps_graph(
    grad_out: Tensor, grad_last: Tensor, out: Tensor, w_hh: Tensor, relu: bool, reverse: bool
) -> Tensor:
    """:func:`backward_steps` in differentiable operations (no ``out=``), for double backward."""
    steps = out.size(0)
    dzs: list[Tensor] = []
    dz = grad_last
    for i in range(steps):
        t = i if reverse else steps - 1 - i
        g = grad_out[t] + (grad_last if i == 0 else torch.mm(dz, w_hh))
        if relu:
            dz = torch.ops.aten.threshold_backward(g, out[t], 0.0)
        else:
            dz = torch.ops.aten.tanh_backward(g, out[t])
        dzs.append(dz)
    if not reverse:
        dzs.reverse()
    return torch.stack(dzs)


def _loop_mode() -> contextlib.AbstractContextManager[Any]:
    """``torch.inference_mode()`` when :data:`INFERENCE_MODE`, else nothing
    (``inference_mode(False)`` would turn grad mode on)."""
    return torch.inference_mode() if INFERENCE_MODE else contextlib.nullcontext()


_scripted: dict[Callable[..., Tensor], Callable[..., Tensor]] = {}
"""What TorchScript made of each loop (:func:`forward_steps`, :func:`backward_steps`): a
``ScriptFunction``, or the Python function where scripting failed or is gone."""
_compiled: dict[Callable[..., Tensor], Callable[..., Tensor]] = {}


def _script(loop: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``loop`` compiled by TorchScript, once, without its deprecation warning (torch 2.13 and
    later); the Python function where that fails."""
    if loop not in _scripted:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _scripted[loop] = torch.jit.script(loop)
        except Exception:
            _scripted[loop] = loop
    return _scripted[loop]


def _loop(loop: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``loop``, through :func:`_script` when :data:`SCRIPTED`.

    An error inside the compiled loop is raised again by the Python one, so that callers see
    the message torch gives, not TorchScript's wrapping of it; should the Python one not fail,
    the compiled loop's error stands (:func:`forward_steps` writes over its input, so a result
    computed after a failure part-way through could be wrong).
    """
    if not SCRIPTED:
        return loop
    if loop not in _compiled:
        scripted = _script(loop)

        def run(*args: Any) -> Tensor:
            try:
                return scripted(*args)
            except RuntimeError:
                loop(*args)
                raise

        _compiled[loop] = run
    return _compiled[loop]
