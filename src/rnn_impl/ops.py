"""A padded stack of layers (a module's recurrence) as an operation of its own,
``torch.ops.rnn_impl.stack``, for torch's compilers; one layer and direction (or a cell's step)
as another, ``torch.ops.rnn_impl.layer``; dropout's noise as a third. Importing this module
registers the operations: a program saved by ``torch.export.save`` needs ``import rnn_impl.ops``
before ``torch.export.load`` (building a drop-in imports it too).

Under ``torch.compile`` and ``torch.export``, tracing the recurrence would unroll its time loop:
compile time grows with the sequence, every new length recompiles, and the compiler's own
kernels round differently from eager. Traced, a stack is instead one ``custom_op`` whose fake
kernel states only shapes (the sequence length stays symbolic), and whose kernel, at run time,
is the eager stack (:func:`rnn_impl._recurrence.run_stack` over
:func:`rnn_impl._recurrence.eager_layer`): one call into the operation for the whole module,
which a compiled forward pays once. Its gradient is a second operation,
``torch.ops.rnn_impl.stack_backward``, which asks autograd for the gradients of the graph eager
mode records: in grad mode the forward's kernel records it, as eager does, and returns a token
(an empty tensor) after its results, which the compiled graph keeps for the backward; the
backward finds the graph by it (a registry the token's life bounds) and runs it once, so a
compiled training step runs the recurrence once, and its gradients are eager's bit for bit.
The results it returns are copies, which the compiler may write over. Where the backward
finds no graph (an exported program's operations keep none; ``vmap`` stacks the tokens) it
runs the eager stack again, with autograd: the same graph, the same gradients.
Training mode's dropout noise is drawn before the stack, by ``dropout_noise`` in eager's order,
and handed to it; under CPU autocast the kernel runs the eager stack under the same autocast
(:func:`_dtypes` states the results' dtypes it gives). A subclass that overrides a layer or a
step is traced layer by layer (``layer``, ``layer_backward``), a cell step by step. All are opaque to the compiler, so a
compiled or exported drop-in computes what eager computes; double backward of a compiled module
is not supported (eager's is).

Eager code never meets these operations: autograd, ``torch.func``, forward-mode AD, autocast,
tracing and the meta device keep the eager paths they are tested on.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from rnn_impl._recurrence import eager_layer, run_stack
from rnn_impl._steps import STEPS, Hidden, LayerWeights


def traced() -> bool:
    """Whether a layer is being traced by ``torch.compile`` or ``torch.export`` and should be
    one operation: where :func:`_tracing`, and not under autocast (whose casts the eager
    layer makes per operation)."""
    return _tracing() and not torch._C._is_any_autocast_enabled()


def _tracing() -> bool:
    """Whether ``torch.compile`` or ``torch.export`` is tracing, outside a ``torch.func``
    transform (``grad``, ``vmap``: the eager layer's operations know them; the operations'
    autograd does not)."""
    return torch.compiler.is_compiling() and not torch._C._are_functorch_transforms_active()


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
    requires_grad, grad_mode = _as_eager(tensors)
    record = _records(requires_grad, grad_mode)
    results = layer(*tensors, mode, reverse, cell, requires_grad, grad_mode, record)
    return results[: _layer_results(cell, c is not None)]


def _layer_results(cell: bool, lstm: bool) -> int:
    """How many results :func:`layer` gives before its token: a layer's output and final
    state, a cell's new state (an LSTM's ``h`` and ``c``)."""
    return (1 if cell else 2) + lstm


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


def compiled_stack(
    x: Tensor,
    hx: Hidden,
    weights: list[LayerWeights],
    mode: str,
    num_layers: int,
    bidirectional: bool,
    p: float,
) -> tuple[Tensor, Hidden]:
    """:func:`rnn_impl._recurrence.run_stack` over time-major ``x (T, B, I)`` from ``hx``, every
    layer through :func:`rnn_impl._recurrence.eager_layer`, dropout ``p`` between the layers
    (0: none), as one ``torch.ops.rnn_impl.stack`` operation: ``(output (T, B, D * H_out),
    h_n)``, ``h_n`` like ``hx``."""
    h, c = hx if isinstance(hx, tuple) else (hx, None)
    given = [x, h, c, *(t for w in weights for t in w)]
    tensors = [t for t in given if t is not None]
    autocast = _autocast(x)
    width = (2 if bidirectional else 1) * h.shape[-1]
    between = _result_dtypes(given, mode, autocast)[0]
    noise = _noise(x, (x.shape[0], x.shape[1], width), between, p, num_layers - 1)
    requires_grad, grad_mode = _as_eager(tuple(tensors))
    options = (mode, num_layers, bidirectional)
    present = [t is not None for t in given]
    record = _records(requires_grad, grad_mode)
    out, h_n, *rest = stack(
        tensors, present, noise, *options, requires_grad, grad_mode, autocast, record
    )
    return out, _state(h_n, rest[0] if c is not None else None)


def stack_traced(x: Tensor, hx: Hidden, weights: list[LayerWeights], p: float) -> bool:
    """Whether a stack over ``x`` from ``hx`` with dropout ``p`` (0: none) is traced as one
    :func:`stack`: where :func:`_tracing`, where dropout is drawn as eager draws it (see
    :func:`dropout`), and under autocast only on the CPU from a float32 input and weights and
    float32 or autocast's states (whose results' dtypes :func:`_dtypes` knows)."""
    if not _tracing():
        return False
    if p != 0 and x.device.type != "cpu":
        return False
    if not torch._C._is_any_autocast_enabled():
        return True
    states = hx if isinstance(hx, tuple) else (hx,)
    tensors = [x, *(t for w in weights for t in w if t is not None)]
    autocast = _autocast(x)
    return (
        x.device.type == "cpu"
        and autocast in (torch.bfloat16, torch.float16)
        and all(t.dtype == torch.float32 for t in tensors)
        and all(s.dtype in (torch.float32, autocast) for s in states)
    )


def _autocast(x: Tensor) -> torch.dtype | None:
    """The dtype autocast runs ``x``'s device's operations in, or None where it is off."""
    kind = x.device.type
    return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None


def _result_dtypes(
    full: list[Any], mode: str, autocast: torch.dtype | None
) -> tuple[torch.dtype, torch.dtype, torch.dtype | None]:
    """The dtypes of :func:`stack`'s ``output``, ``h_n`` and an LSTM's ``c_n`` (else None)
    from ``full`` (``[x, h, c, *weights]``): the given ones', or under ``autocast`` those of
    :func:`_dtypes`."""
    x, h, c, *weights = full
    if autocast is None:
        return x.dtype, h.dtype, None if c is None else c.dtype
    state, cell = _dtypes(mode, autocast, h, c, weights[4] is not None)
    return state, state, cell


def _dtypes(
    mode: str, autocast: torch.dtype, h: Tensor, c: Tensor | None, projected: bool
) -> tuple[torch.dtype, torch.dtype | None]:
    """The dtypes of eager's stack under ``autocast``: of its output and ``h_n``, and of an
    LSTM's ``c_n``. Autocast runs each ``linear`` in its dtype and the rest in the operands'
    dtype: an Elman state is a ``linear``'s, a GRU's new state adds the old one in, an
    LSTM's ``c`` adds the old ``c`` in, and its ``h`` is ``c``'s, or a projection's."""
    if mode in ("RNN_TANH", "RNN_RELU"):
        return autocast, None
    if c is None:
        return torch.promote_types(h.dtype, autocast), None
    cell = torch.promote_types(c.dtype, autocast)
    return (autocast if projected else cell), cell


def _noise(
    x: Tensor, shape: tuple[Any, ...], dtype: torch.dtype, p: float, count: int
) -> list[Tensor]:
    """The ``count`` noise tensors of :func:`dropout` (each of ``shape`` and ``dtype``, a
    layer's output's, on ``x``'s device), drawn in eager's order (each waits for the one
    before); none when ``p`` is 0, zeros when 1."""
    if p == 0 or count == 0:
        return []
    if p == 1:
        return [x.new_zeros((), dtype=dtype) for _ in range(count)]
    noise, like = [], x.new_empty(shape, dtype=dtype)
    for _ in range(count):
        like = dropout_noise(like, p)
        noise.append(like)
    return noise


Run = Callable[[list[Any]], list[Tensor]]
"""What an operation computes eagerly, from its tensors in their full positions (None where
absent): its results."""


def _forward(
    run: Run,
    tensors: list[Tensor | None],
    requires_grad: list[bool],
    grad_mode: bool,
    record: bool,
) -> list[Tensor]:
    """An operation's kernel: ``run`` on ``tensors`` as eager mode would see them, requiring
    grad as ``requires_grad`` says (one flag per tensor) in ``grad_mode``
    (:func:`_as_eager`); the results detached, none aliasing an input or another. In grad
    mode the tensors are detached first, so that what ``run`` records stays inside. Where
    ``record``, the graph ``run`` recorded is kept for the operation's backward, which finds
    it by a token that follows the results, and the results are copies (the graph keeps what
    it saved, and the compiler may write over an operation's results). A graph not kept
    would be lost, so ``run`` records none then: grad mode changes no kernel it runs (a view
    of a weight requires grad either way, which is all ATen's matmul asks), but which path an
    Elman layer takes in half precision, where it keeps grad mode."""
    given = [t for t in tensors if t is not None]
    grad_mode = grad_mode and (record or given[0].dtype in (torch.float16, torch.bfloat16))
    full = [
        t if t is None or (t.requires_grad == f and not grad_mode) else t.detach().requires_grad_(f)
        for t, f in zip(tensors, requires_grad)
    ]
    with _autograd_inside(), torch.set_grad_enabled(grad_mode):
        results = run(full)
    if not record:
        return _distinct([t.detach() for t in results], given)
    token = _token(given[0])
    _GRAPHS[id(token)] = (results, [t for t in full if t is not None])
    weakref.finalize(token, _GRAPHS.pop, id(token), None)
    return [*(t.detach().clone() for t in results), token]


def _records(requires_grad: list[bool], grad_mode: bool) -> bool:
    """Whether a traced operation keeps the graph eager mode would record (some tensor
    requires grad, in grad mode) for its backward: under ``torch.compile``, whose training
    graph calls the backward; not in ``torch.export``'s program, which runs without one
    (its backward, where there is one, runs the computation again)."""
    return grad_mode and any(requires_grad) and not torch.compiler.is_exporting()


_GRAPHS: dict[int, tuple[list[Tensor], list[Tensor]]] = {}
"""The graphs operations recorded (their results, and the leaves: their tensor arguments as
the graph saw them), by the ``id`` of the token they returned; each leaves with its token."""


def _recorded(token: list[Tensor], needs: list[bool]) -> tuple[list[Tensor], list[Tensor]] | None:
    """The graph an operation's forward recorded, found by its ``token`` (``[token]``), when
    each input that ``needs`` a gradient required grad in it; else None (no token: a forward
    that did not record, or another path, such as ``vmap``'s)."""
    graph = _GRAPHS.get(id(token[0])) if len(token) == 1 else None
    if graph is None or not all(t.requires_grad for t, n in zip(graph[1], needs) if n):
        return None
    return graph


def _gradients(
    run: Run,
    grads: list[Tensor],
    inputs: list[Tensor],
    present: list[bool],
    needs: list[bool],
    token: list[Tensor],
) -> list[Tensor]:
    """A backward operation's kernel: the gradients of ``<grads, run(inputs)>`` with respect to
    each of ``inputs`` (the tensors at the positions ``present`` marks) that ``needs`` one,
    from the graph the forward recorded (found by ``token``, :func:`_recorded`), else from
    ``run`` rerun eagerly with autograd: either way, eager mode's graph and gradients."""
    graph = _recorded(token, needs)
    if graph is None:
        leaves = [t.detach().requires_grad_(need) for t, need in zip(inputs, needs)]
        with _autograd_inside(), torch.enable_grad():
            results = run(_unpack(leaves, present))
    else:
        results, leaves = graph
    wanted = [t for t, need in zip(leaves, needs) if need]
    found = torch.autograd.grad(
        results, wanted, grads, allow_unused=True, retain_graph=graph is not None
    )
    results = [torch.zeros_like(t) if g is None else g for g, t in zip(found, wanted)]
    return _distinct(results, [*grads, *inputs])


def _per_input(found: list[Tensor], needs: list[bool]) -> list[Tensor | None]:
    """A backward operation's gradients, one per input: None where none was needed."""
    given = iter(found)
    return [next(given) if need else None for need in needs]


def _stack_run(
    noise: list[Tensor],
    mode: str,
    num_layers: int,
    bidirectional: bool,
    autocast: torch.dtype | None = None,
) -> Run:
    """:func:`stack`'s computation: ``[x, h, c, *weights]`` (five per layer and direction, as
    :class:`~rnn_impl.LayerWeights`) -> ``[output, h_n]`` (``[output, h_n, c_n]``).
    ``autocast``: the dtype eager's autocast ran in (None: off)."""

    def layer(x: Tensor, state: Hidden, w: LayerWeights, reverse: bool, _: Any) -> Any:
        return eager_layer(x, state, w, mode, reverse)

    def run(tensors: list[Any]) -> list[Tensor]:
        x, h, c, *flat = tensors
        weights = [LayerWeights(*flat[i : i + 5]) for i in range(0, len(flat), 5)]
        between = (lambda output, index: output * noise[index]) if noise else None
        # autocast caches a weight's cast for the context's life, and eager's graph shares that
        # cast between steps: where autograd records it caches as eager does; where it does
        # not, a cached cast without a graph would leave the caller's later eager casts
        # without a gradient (seen on torch 2.9), so it caches nothing
        amp = (
            contextlib.nullcontext()
            if autocast is None
            else torch.autocast(x.device.type, autocast, cache_enabled=torch.is_grad_enabled())
        )
        with amp:
            out, final = run_stack(
                x, _state(h, c), weights, num_layers, bidirectional, None, layer, between
            )
        return [out, *_states(final)]

    return run


@torch.library.custom_op("rnn_impl::stack", mutates_args=())
def stack(
    tensors: list[Tensor],
    present: list[bool],
    noise: list[Tensor],
    mode: str,
    num_layers: int,
    bidirectional: bool,
    requires_grad: list[bool],
    grad_mode: bool,
    autocast: torch.dtype | None,
    record: bool,
) -> list[Tensor]:
    """``[output (T, B, D * H_out), h_n]`` (and ``c_n`` for an LSTM) of a padded stack:
    :func:`compiled_stack`; where ``record`` (:func:`_records`), then a token by which its
    backward finds the graph it recorded (:func:`_forward`). ``tensors`` are those
    of ``x, h, c, *weights`` that are not None (``present`` marks which), ``noise`` the dropout
    noise of every layer but the last (or none), ``requires_grad`` and ``grad_mode`` what
    eager mode would see (:func:`_as_eager`), ``autocast`` the dtype autocast ran in (None:
    off)."""
    run = _stack_run(noise, mode, num_layers, bidirectional, autocast)
    full = _unpack(tensors, present)
    results = _forward(run, full, _unpack(requires_grad, present), grad_mode, record)
    expected = _result_dtypes(full, mode, autocast)
    found = (results[0].dtype, results[1].dtype, results[2].dtype if full[2] is not None else None)
    if autocast is not None and found != expected:
        raise RuntimeError(
            f"rnn_impl.ops.stack under autocast to {autocast}: the eager stack gave {found}, "
            f"its fake kernel promised {expected}; please report it (run the module "
            "eagerly, or compile it outside autocast, meanwhile)"
        )
    return results


@stack.register_fake
def _stack_fake(
    tensors: list[Tensor],
    present: list[bool],
    noise: list[Tensor],
    mode: str,
    num_layers: int,
    bidirectional: bool,
    requires_grad: list[bool],
    grad_mode: bool,
    autocast: torch.dtype | None,
    record: bool,
) -> list[Tensor]:
    full = _unpack(tensors, present)
    x, h, c = full[:3]
    directions = 2 if bidirectional else 1
    steps, batch, width = x.shape[0], x.shape[1], h.shape[-1]
    output, state, cell = _result_dtypes(full, mode, autocast)
    final = [h.new_empty(h.shape, dtype=state)]
    if c is not None:
        final.append(c.new_empty(c.shape, dtype=cell))
    out = x.new_empty((steps, batch, directions * width), dtype=output)
    return [out, *final, *_token_fake(x, record)]


def _token_fake(like: Tensor, record: bool) -> list[Tensor]:
    """A fake kernel's token after the results (:func:`_forward`): ``[token]`` or none."""
    return [_token(like)] if record else []


def _token(like: Tensor) -> Tensor:
    """A token (:func:`_forward`): an empty tensor on ``like``'s device."""
    return like.new_empty((0,), dtype=torch.uint8)


@torch.library.custom_op("rnn_impl::stack_backward", mutates_args=())
def stack_backward(
    grads: list[Tensor],
    inputs: list[Tensor],
    present: list[bool],
    needs: list[bool],
    noise: list[Tensor],
    token: list[Tensor],
    mode: str,
    num_layers: int,
    bidirectional: bool,
    autocast: torch.dtype | None,
) -> list[Tensor]:
    """The gradients of ``<grads, stack(...)>`` (its output and final states) with respect to
    each of :func:`stack`'s ``tensors`` (here ``inputs``) that ``needs`` one; ``token``: the
    one :func:`stack` returned (or none)."""
    run = _stack_run(noise, mode, num_layers, bidirectional, autocast)
    return _gradients(run, grads, inputs, present, needs, token)


def _gradients_fake(
    grads: list[Tensor], inputs: list[Tensor], present: list[bool], needs: list[bool], *_: Any
) -> list[Tensor]:
    """A backward operation's fake kernel: a gradient shaped like each input that needs one."""
    return [t.new_empty(t.shape) for t, need in zip(inputs, needs) if need]


stack_backward.register_fake(_gradients_fake)


def _stack_setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    tensors, ctx.present, noise = inputs[:3]
    _save(ctx, [*tensors, *noise], output, 3 if ctx.present[2] else 2)  # output, h_n[, c_n]
    ctx.counts = len(tensors), len(noise)
    ctx.options = inputs[3:6]  # mode, num_layers, bidirectional
    ctx.autocast = inputs[8]


def _stack_backward(ctx: Any, grads: list[Tensor]) -> tuple[Any, ...]:
    saved = list(ctx.saved_tensors)
    count, noisy = ctx.counts
    tensors, noise, token = saved[:count], saved[count : count + noisy], saved[count + noisy :]
    needs = list(ctx.needs_input_grad[0])
    results = list(grads[: ctx.results])
    options = (*ctx.options, ctx.autocast)
    found = stack_backward(results, tensors, ctx.present, needs, noise, token, *options)
    return _per_input(found, needs), None, [None] * noisy, *[None] * 7


stack.register_autograd(_stack_backward, setup_context=_stack_setup_context)


def _save(ctx: Any, tensors: list[Tensor], output: list[Tensor], results: int) -> None:
    """Save ``tensors`` for an operation's backward, and its token, which follows its first
    ``results`` outputs where it recorded a graph (:func:`_forward`)."""
    ctx.results = results
    token = output[results:]
    ctx.mark_non_differentiable(*token)
    ctx.save_for_backward(*tensors, *token)


def _layer_run(mode: str, reverse: bool, cell: bool) -> Run:
    """:func:`layer`'s computation: ``[x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr]`` -> a layer's
    ``[out, *final state]``, a cell's step's ``[*state']``."""

    def run(tensors: list[Any]) -> list[Tensor]:
        x, h, c, *weights = tensors
        state, w = _state(h, c), LayerWeights(*weights)
        if cell:
            return _states(STEPS[mode](x, state, w, False))
        out, final = eager_layer(x, state, w, mode, reverse)
        return [out, *_states(final)]

    return run


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
    record: bool,
) -> list[Tensor]:
    """``[out (T, B, H_out), h_last (B, H_out)]``, and ``c_last (B, H)`` when ``c`` is given
    (an LSTM): :func:`rnn_impl._recurrence.eager_layer`. A ``cell``'s step from ``x (B, I)``:
    ``[h']`` (``[h', c']``). It runs as eager mode would, on tensors that require grad as
    ``requires_grad`` says (one flag per tensor argument) and in ``grad_mode``
    (:func:`_as_eager`); where ``record`` (:func:`_records`), a token follows, by which its
    backward finds the graph it recorded (:func:`_forward`)."""
    tensors = [x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr]
    return _forward(_layer_run(mode, reverse, cell), tensors, requires_grad, grad_mode, record)


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
    record: bool,
) -> list[Tensor]:
    final = [t.new_empty(t.shape) for t in (h, c) if t is not None]
    results = final if cell else [x.new_empty((x.shape[0], x.shape[1], h.shape[-1])), *final]
    return [*results, *_token_fake(x, record)]


@torch.library.custom_op("rnn_impl::layer_backward", mutates_args=())
def layer_backward(
    grads: list[Tensor],
    inputs: list[Tensor],
    present: list[bool],
    needs: list[bool],
    token: list[Tensor],
    mode: str,
    reverse: bool,
    cell: bool,
) -> list[Tensor]:
    """The gradients of ``<grads, layer(...)>`` with respect to each tensor input that
    ``needs`` one: ``inputs`` are :func:`layer`'s tensor arguments that are not None
    (``present`` marks which of ``x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr`` they are),
    ``token`` the one :func:`layer` returned (or none)."""
    return _gradients(_layer_run(mode, reverse, cell), grads, inputs, present, needs, token)


layer_backward.register_fake(_gradients_fake)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    tensors = inputs[:8]
    ctx.present = [t is not None for t in tensors]
    ctx.options = inputs[8:11]  # mode, reverse, cell
    given = [t for t in tensors if t is not None]
    _save(ctx, given, output, _layer_results(ctx.options[2], ctx.present[2]))


def _backward(ctx: Any, grads: list[Tensor]) -> tuple[Tensor | None, ...]:
    saved = list(ctx.saved_tensors)
    count = sum(ctx.present)
    flags = [need for need, here in zip(ctx.needs_input_grad[:8], ctx.present) if here]
    results, tensors, token = list(grads[: ctx.results]), saved[:count], saved[count:]
    found = layer_backward(results, tensors, ctx.present, flags, token, *ctx.options)
    return (*_unpack(_per_input(found, flags), ctx.present), *[None] * 6)


layer.register_autograd(_backward, setup_context=_setup_context)


def _one_at_a_time(op: Any) -> Callable[..., tuple[list[Tensor], list[int]]]:
    """A batching rule (``register_vmap``) that runs ``op`` once per index of the mapped
    dimension, on the slices of the mapped arguments, and stacks the results: each sample
    computes what it computes alone (eager ``vmap`` batches the layer's operations instead,
    which may round otherwise)."""

    def pick(arg: Any, dim: Any, index: int) -> Any:
        if isinstance(arg, list) and isinstance(dim, list):
            return [pick(a, d, index) for a, d in zip(arg, dim)]
        return arg if dim is None else arg.select(dim, index)

    def rule(info: Any, in_dims: tuple[Any, ...], *args: Any) -> tuple[list[Tensor], list[int]]:
        samples = [
            op(*(pick(a, d, i) for a, d in zip(args, in_dims))) for i in range(info.batch_size)
        ]
        return [torch.stack(results) for results in zip(*samples)], [0] * len(samples[0])

    return rule


for _op in (stack, layer):
    _op.register_vmap(_one_at_a_time(_op))


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
