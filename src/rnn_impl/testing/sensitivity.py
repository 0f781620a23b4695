"""How far a correct implementation may land from torch's result on one example: the
sensitivity of the computation itself.

Torch's equations (Elman, GRU, LSTM and their cells) run here again in float64, from the
weights and inputs the implementation is given (rounded to the tested dtype): once exactly,
and :data:`~rnn_impl.testing.tolerances.SAMPLES` times with every rounded operation perturbed
by a random amount of the order of the *tested* dtype's unit roundoff ``u`` (Monte Carlo
arithmetic, Parker 1997): a sum of ``n`` terms by ``u * sqrt(n)`` times the sum of their
magnitudes times a standard normal draw (the scale of Higham and Mary's probabilistic bound,
2019, which holds whatever order the terms are summed in), an activation or a product of two
values by ``u`` times its value; in the backward pass, each product with a weight matrix
likewise. A matrix product's sums accumulate at the unit roundoff of
:func:`~rnn_impl.testing.tolerances.accumulation_roundoff` (float32 for half precision on the
CPU), and its result and the few pieces added to it (a bias, the other product) are each
rounded to the tested dtype. The samples run together, as a leading dimension of every tensor; sample 0 is the
exact run.

The spread of the samples around the exact run (:class:`Sensitivity`) is how far rounding
alone moves a correct result on this example: of the order of ``u`` where the recurrence
contracts, growing from step to step near chaos, and of the order of the values themselves
where the example cannot be judged at that precision. A weight's gradient sums one term per
step and batch row; its floor is the same probabilistic bound over all of them, so any order
of accumulation is within it.

Everything here depends on the example and torch's module, never on the implementation's
output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnn_impl.testing.cases import (
    ModuleConfig,
    generator,
    make_cell_inputs,
    make_inputs,
    upstream_grads,
)
from rnn_impl.testing.kinds import Kind
from rnn_impl.testing.strategies import Example
from rnn_impl.testing.tolerances import SAMPLES, accumulation_roundoff, unit_roundoff

F64 = torch.float64


@dataclass(frozen=True)
class Sensitivity:
    """For each result of one example, by name (``output`` and ``state`` (an LSTM's ``(h, c)``
    joined), a cell's ``state``; with gradients ``input``, ``h0`` or ``hx``, and every
    parameter by torch's name): the exact float64 result, the root-mean-square distance of the
    perturbed runs from it (``spread``), and the rounding of the last operation that makes it
    (``floor``); each shaped as the implementation's result is."""

    exact: dict[str, Tensor]
    spread: dict[str, Tensor]
    floor: dict[str, Tensor]
    dtype: torch.dtype


class Allowed:
    """What rounding allows each result of one example, ``(spread, floor)`` by name: the
    :class:`Sensitivity` ``compute`` returns, computed the first time a comparison needs it
    (a result within its own last rounding of torch's needs none)."""

    def __init__(self, compute: Callable[[], Sensitivity]) -> None:
        self.compute = compute
        self.found: Sensitivity | None = None

    def __call__(
        self, name: str, change: Callable[[Tensor], Tensor] = lambda t: t
    ) -> tuple[Tensor, Tensor]:
        """The spread and floor of the result ``name``, changed by ``change`` (a law's
        permutation or slice)."""
        if self.found is None:
            self.found = self.compute()
        return change(self.found.spread[name]), change(self.found.floor[name])


class Rounding:
    """The perturbations of one set of runs: ``u`` of the tested dtype, and normal draws from
    the example's seed (zero in sample 0, the exact run); magnitudes are constants to
    autograd. ``peak`` is the largest sum of magnitudes any sum met, forward or backward:
    past half the tested dtype's largest number, a correct implementation may overflow on
    the way to a finite result."""

    def __init__(self, example: Example) -> None:
        self.u = unit_roundoff(example.dtype)
        self.accumulated = accumulation_roundoff(example.dtype, example.device)
        self.generator = generator(example.case.seed, 11)
        self._peaks: list[Tensor] = []
        self.overflow = torch.finfo(example.dtype).max / 2

    @property
    def peak(self) -> float:
        """The largest sum of magnitudes met so far (a sum with a NaN among its magnitudes
        is not counted)."""
        if not self._peaks:
            return 0.0
        peaks = torch.stack(self._peaks)
        return max(0.0, float(torch.where(peaks.isnan(), 0.0, peaks).max()))

    def _met(self, magnitude: Tensor) -> Tensor:
        if magnitude.numel():
            self._peaks.append(magnitude.detach().max())
        return magnitude.detach()

    def draw(self, shape: tuple[int, ...]) -> Tensor:
        """Standard normal draws of ``shape`` (its first dimension the samples), zero in
        sample 0."""
        z = torch.randn(shape, generator=self.generator, dtype=F64)
        z[0] = 0
        return z

    def sum(self, value: Tensor, magnitude: Tensor, terms: int) -> Tensor:
        """``value``, a sum of ``terms`` terms whose magnitudes add to ``magnitude``."""
        noise = self.u * math.sqrt(terms) * self._met(magnitude) * self.draw(tuple(value.shape))
        return value + noise

    def dot(
        self, value: Tensor, magnitude: Tensor, terms: int, pieces: Tensor, count: int = 1
    ) -> Tensor:
        """``value``, made of ``count`` pieces whose magnitudes add to ``pieces`` (a matrix
        product, a bias, another product), their ``terms`` products (magnitudes adding to
        ``magnitude``) accumulated in the accumulation dtype, each piece rounded to the
        tested dtype and added there."""
        if self.accumulated == self.u:  # accumulated in the tested dtype: one bound covers all
            return self.sum(value, magnitude, terms)
        shape = tuple(value.shape)
        inside = self.accumulated * math.sqrt(terms) * self._met(magnitude) * self.draw(shape)
        rounded = self.u * math.sqrt(count) * pieces.detach() * self.draw(shape)
        return value + inside + rounded

    def each(self, value: Tensor, times: int = 1) -> Tensor:
        """``value``, each element rounded ``times`` times (a product, a difference), and so
        is the gradient that flows back through it (the backward's own products)."""
        shape = tuple(value.shape)
        u = self.u * math.sqrt(times)
        noise = u * value.detach().abs() * self.draw(shape)
        z = self.draw(shape)
        return Rounded.apply(value, noise, u, z) if _graph(value) else value + noise

    def back(self, value: Tensor) -> Tensor:
        """``value``, whose gradient is rounded once where it arrives: a result used twice
        (the output and h_n, say) gets the sum of both gradients, which autograd accumulates
        in the tested dtype. Without it, a sum that cancels downstream (a row of a weight's
        gradient) would get far too small a spread."""
        zeros, z = torch.zeros_like(value), self.draw(tuple(value.shape))
        return Rounded.apply(value, zeros, self.u, z) if _graph(value) else value + zeros

    def activation(self, name: str, value: Tensor) -> Tensor:
        """``tanh``, ``sigmoid`` or ``relu`` of ``value``, rounded, its derivative from the
        rounded result and the backward's product rounded (:class:`Activation`)."""
        shape = tuple(value.shape)
        z, z_back = self.draw(shape), self.draw(shape)
        if _graph(value):
            return Activation.apply(value, name, self.u, z, z_back)
        y = ACTIVATIONS[name](value)
        return y + self.u * y.abs() * z


def _graph(value: Tensor) -> bool:
    """Whether autograd records an operation on ``value`` (else the :class:`Rounded`,
    :class:`Activation` and :class:`Product` functions are computed as their forward is,
    without their overhead)."""
    return torch.is_grad_enabled() and value.requires_grad


class Sums:
    """What the gradients of the weights sum in the exact run: per weight (by identity), the
    sum of the magnitudes of their terms, and how many terms."""

    def __init__(self) -> None:
        self.magnitude: dict[int, Tensor] = {}
        self.terms: dict[int, int] = {}

    def add(self, weight: Tensor, magnitude: Tensor, terms: int) -> None:
        key = id(weight)
        self.magnitude[key] = self.magnitude.get(key, 0) + magnitude
        self.terms[key] = self.terms.get(key, 0) + terms


class Rounded(torch.autograd.Function):
    """``value + noise`` (a rounding already drawn), whose backward rounds the gradient once
    (``u`` times its magnitude, with the draws ``z``): an elementwise product's backward is a
    product too, rounded as the forward's is."""

    @staticmethod
    def forward(ctx: Any, value: Tensor, noise: Tensor, u: float, z: Tensor) -> Tensor:  # type: ignore[override]
        ctx.u = u
        ctx.save_for_backward(z)
        return value + noise

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        (z,) = ctx.saved_tensors
        return grad + ctx.u * grad.abs() * z, None, None, None


class Activation(torch.autograd.Function):
    """An activation whose result is rounded (``u`` times its value, with the draws ``z``)
    and whose backward is computed from that rounded result, as ATen's ``tanh_backward`` and
    ``sigmoid_backward`` are: near saturation ``1 - y^2`` from a rounded ``y`` keeps no
    relative accuracy at all, and the spread must show it.

    ReLU's derivative jumps at 0: where the exact pre-activation is within :data:`KINK`
    times its own spread of 0, a correct
    implementation may land on either side (torch's own bfloat16 nn.RNN does, on examples
    the campaigns found), and a few samples rarely cross it. There, half the samples (a
    random half per element) take the other side's derivative, so that the jump is in the
    spread of every gradient it reaches."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, name: str, u: float, z: Tensor, z_back: Tensor
    ) -> Tensor:
        y = ACTIVATIONS[name](x)
        y = y + u * y.abs() * z
        ctx.save_for_backward(x, y, z_back)
        ctx.name, ctx.u = name, u
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, y, z_back = ctx.saved_tensors
        if ctx.name == "tanh":
            slope = 1 - y * y
        elif ctx.name == "sigmoid":
            slope = y * (1 - y)
        else:
            return grad * _relu_slope(x, y, z_back), None, None, None, None
        back = grad * slope
        return back + ctx.u * back.abs() * z_back, None, None, None, None


KINK = 3.0
"""How many spreads from 0 a pre-activation may land on the other side of ReLU's kink in a
correct implementation: a rounding moves a value by at most about one spread (the
perturbations are a probabilistic bound), three leave a margin for the few that compound; the
spread of a whole result is then allowed :data:`~rnn_impl.testing.tolerances.SAFETY` times."""


def _relu_slope(x: Tensor, y: Tensor, z: Tensor) -> Tensor:
    """ReLU's derivative per sample (``x``, ``y``: ``(S, ...)``, sample 0 exact), the other
    side's in half the samples where the exact ``x`` is within :data:`KINK` spreads of 0;
    which half, per element, from the sign of the draw ``z[1]``."""
    slope = (y > 0).to(y.dtype)
    if x.shape[0] < 2:
        return slope
    exact = x[0]
    spread = (x[1:] - exact).pow(2).mean(0).sqrt()
    near = exact.abs() <= KINK * spread
    if not bool(near.any()):
        return slope
    samples = torch.arange(x.shape[0], device=x.device).view(-1, *([1] * exact.dim()))
    other = ((samples + (z[1] > 0).long()) % 2 == 1) & (samples > 0) & near
    crossed = 1.0 - (exact > 0).to(y.dtype)
    return torch.where(other, crossed, slope)


ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


def _bias_shape(b: Tensor, y: Tensor) -> Tensor:
    return b.view(b.shape[0], *([1] * (y.dim() - 2)), b.shape[1])


class Product(torch.autograd.Function):
    """``x W^T + b`` for every sample at once (``x (S, ..., K)``, ``W (S, R, K)``, ``b (S, R)``
    or None). Its backward rounds the gradient of ``x`` (a sum of ``R`` products) and records
    what the gradients of ``W`` and ``b`` sum (:class:`Sums`)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, w: Tensor, b: Tensor | None, rounding: Rounding, sums: Sums
    ) -> Tensor:
        ctx.save_for_backward(x, w, b)
        ctx.rounding, ctx.sums = rounding, sums
        return _linear(x, w, b)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, w, b = ctx.saved_tensors
        rounding, sums = ctx.rounding, ctx.sums
        magnitude = torch.einsum("s...r,srk->s...k", grad.abs(), w.abs())
        grad_x = torch.einsum("s...r,srk->s...k", grad, w)
        grad_x = rounding.dot(grad_x, magnitude, w.shape[1], grad_x.abs())
        grad_w = torch.einsum("s...r,s...k->srk", grad, x)
        rows = grad[0].numel() // max(grad.shape[-1], 1)
        sums.add(w, torch.einsum("...r,...k->rk", grad[0].abs(), x[0].abs()), rows)
        grad_b = None
        if b is not None:
            flat = grad.reshape(grad.shape[0], -1, grad.shape[-1])
            grad_b = flat.sum(1)
            sums.add(b, flat[0].abs().sum(0), rows)
        return grad_x, grad_w, grad_b, None, None


def _linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """``x W^T + b`` for every sample (:class:`Product`'s forward)."""
    y = _matmul(x, w)
    return y if b is None else y + _bias_shape(b, y)


def _matmul(x: Tensor, w: Tensor) -> Tensor:
    """``x W^T`` per sample, ``x (S, ..., K)``, ``W (S, R, K)`` -> ``(S, ..., R)``."""
    return torch.einsum("s...k,srk->s...r", x, w)


def _product(x: Tensor, w: Tensor, b: Tensor | None, rounding: Rounding, sums: Sums) -> Tensor:
    """:class:`Product`, where autograd records it."""
    if any(_graph(t) for t in (x, w, b) if t is not None):
        return Product.apply(x, w, b, rounding, sums)
    return _linear(x, w, b)


def _bias_abs(b: Tensor | None, like: Tensor) -> Tensor | float:
    """``|b|`` shaped to be added to ``like`` (0 without a bias)."""
    return 0.0 if b is None else _bias_shape(b.detach().abs(), like)


def _magnitude(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """``|x| |W|^T + |b|``: the magnitudes a product's sum adds, per element."""
    m = _matmul(x.detach().abs(), w.detach().abs())
    return m if b is None else m + _bias_shape(b.detach().abs(), m)


@dataclass
class _Layer:
    """One layer and direction's weights, each ``(S, ...)``."""

    w_ih: Tensor
    w_hh: Tensor
    b_ih: Tensor | None
    b_hh: Tensor | None
    w_hr: Tensor | None


def _step(
    kind: Kind,
    x_part: tuple[Tensor, Tensor],
    state: tuple[Tensor, Tensor | None],
    w: _Layer,
    activation: Any,
    rounding: Rounding,
    sums: Sums,
) -> tuple[Tensor, Tensor | None]:
    """One step of torch's equations from the projected input ``(gi, |gi|)``: the new ``(h,
    c)`` (``c`` None but for an LSTM)."""
    gi, mi = x_part
    h, c = state
    gh = _product(h, w.w_hh, w.b_hh, rounding, sums)
    mh = _magnitude(h, w.w_hh, w.b_hh)
    inputs, hidden = w.w_ih.shape[2], w.w_hh.shape[2]
    if kind.gates and not kind.paired_state:  # torch's GRU
        gi = rounding.dot(gi, mi, inputs + 1, gi.abs() + _bias_abs(w.b_ih, gi), 2)
        gh = rounding.dot(gh, mh, hidden + 1, gh.abs() + _bias_abs(w.b_hh, gh), 2)
        (ir, iz, in_), (hr, hz, hn) = gi.chunk(3, -1), gh.chunk(3, -1)
        r = rounding.activation("sigmoid", rounding.sum(ir + hr, ir.abs() + hr.abs(), 2))
        z = rounding.activation("sigmoid", rounding.sum(iz + hz, iz.abs() + hz.abs(), 2))
        rhn = rounding.each(r * hn)
        n = rounding.activation("tanh", rounding.sum(in_ + rhn, in_.abs() + rhn.abs(), 2))
        kept, fresh = rounding.each(z * h), rounding.each((1 - z) * n, 2)
        # ATen computes n + z * (h - n): where z is near 1 it cancels, and rounds by u |n|,
        # where (1 - z) n + z h rounds by u |(1 - z) n|: the magnitude covers both orders
        both = fresh.abs() + kept.abs() + n.abs() + z.abs() * (h.abs() + n.abs())
        return rounding.sum(fresh + kept, both, 3), None
    pieces = gi.abs() + gh.abs() + _bias_abs(w.b_ih, gi) + _bias_abs(w.b_hh, gh)
    gates = rounding.dot(gi + gh, mi + mh, inputs + hidden + 2, pieces, 4)
    if not kind.paired_state:  # an Elman RNN
        return rounding.activation(activation, gates), None
    i, f, g, o = gates.chunk(4, -1)
    i, f, g, o = (rounding.activation(act, v) for act, v in zip(_LSTM_ACTS, (i, f, g, o)))
    assert c is not None
    fc, ig = rounding.each(f * c), rounding.each(i * g)
    c = rounding.sum(fc + ig, fc.abs() + ig.abs(), 2)
    h = rounding.each(o * rounding.activation("tanh", c))
    if w.w_hr is not None:
        projected = _product(h, w.w_hr, None, rounding, sums)
        h = rounding.dot(projected, _magnitude(h, w.w_hr, None), w.w_hr.shape[2], projected.abs())
    return h, c


_LSTM_ACTS = ("sigmoid", "sigmoid", "tanh", "sigmoid")


def _direction(
    kind: Kind,
    x: Tensor,
    state: tuple[Tensor, Tensor | None],
    w: _Layer,
    reverse: bool,
    mask: Tensor | None,
    activation: Any,
    rounding: Rounding,
    sums: Sums,
) -> tuple[Tensor, tuple[Tensor, Tensor | None]]:
    """One layer and direction over ``x (S, T, B, I)`` from ``state``: outputs ``(S, T, B,
    H_out)`` in time order (zero past each sequence's length) and the final state; a sequence
    shorter than ``T`` starts the reverse direction at its own last step."""
    gi = _product(x, w.w_ih, w.b_ih, rounding, sums)
    mi = _magnitude(x, w.w_ih, w.b_ih)
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    outputs: list[Tensor] = [x.new_zeros(0)] * x.shape[1]
    h, c = state
    for t in steps:
        new_h, new_c = _step(kind, (gi[:, t], mi[:, t]), (h, c), w, activation, rounding, sums)
        if mask is None:
            h, c, out = new_h, new_c, new_h
        else:
            keep = mask[t].view(1, -1, 1)
            h = torch.where(keep, new_h, h)
            c = None if c is None or new_c is None else torch.where(keep, new_c, c)
            out = torch.where(keep, new_h, torch.zeros_like(new_h))
        outputs[t] = rounding.back(out)  # h_t's gradient: this use's plus the next step's
    return torch.stack(outputs, 1), (h, c)


def _layers(config: ModuleConfig, weights: dict[str, Tensor], cell: bool) -> list[_Layer]:
    """The weights of each layer and direction, by torch's names (a cell's have no
    suffix)."""
    found = []
    suffixes = (
        [""]
        if cell
        else [
            f"_l{layer}{direction}"
            for layer in range(config.num_layers)
            for direction in ("", "_reverse")[: config.num_directions]
        ]
    )
    for suffix in suffixes:
        parts = [weights.get(f"{name}{suffix}") for name in _NAMES]
        found.append(_Layer(*parts))  # type: ignore[arg-type]
    return found


_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def _split(config: ModuleConfig, state: Tensor) -> tuple[Tensor, Tensor | None]:
    if not config.kind.paired_state:
        return state, None
    h, c = state.split([config.output_size, config.hidden_size], -1)
    return h, c


def _join(state: tuple[Tensor, Tensor | None]) -> Tensor:
    h, c = state
    return h if c is None else torch.cat([h, c], -1)


def _stack(
    config: ModuleConfig,
    x: Tensor,
    h0: Tensor,
    layers: list[_Layer],
    mask: Tensor | None,
    training: bool,
    rounding: Rounding,
    sums: Sums,
) -> tuple[Tensor, Tensor]:
    """Every layer and direction over time-major ``x (S, T, B, I)`` from ``h0 (S, L*D, B,
    state)``: ``(output (S, T, B, D*H_out), h_n like h0)``."""
    activation = config.nonlinearity
    directions = config.num_directions
    finals, layer_input = [], x
    for layer in range(config.num_layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            out, final = _direction(
                config.kind,
                layer_input,
                _split(config, h0[:, index]),
                layers[index],
                direction == 1,
                mask,
                activation,
                rounding,
                sums,
            )
            outputs.append(out)
            finals.append(_join(final))
        layer_input = torch.cat(outputs, -1)
        if training and config.dropout and layer < config.num_layers - 1:
            if config.dropout != 1:
                raise ValueError("the sensitivity of a run with dropout is known for p in {0, 1}")
            layer_input = layer_input * 0
    return layer_input, torch.stack(finals, 1)


def _replicated(value: Tensor, samples: int, grad: bool) -> Tensor:
    """``value`` in float64 on the CPU, once per sample: ``(S, *value.shape)``."""
    copies = value.detach().to("cpu", F64).expand(samples, *value.shape).clone()
    return copies.requires_grad_(grad)


def module_sensitivity(
    reference: nn.Module, example: Example, training: bool = False, gradients: bool = False
) -> Sensitivity:
    """The sensitivity of torch's recurrent module ``reference`` (its weights as they are, in
    the tested dtype) on ``example``: its ``output`` (a packed output's data) and ``state``;
    with ``gradients``, the gradients of ``<g_out, output> + <g_h, state>`` (the case's
    upstream gradients) with respect to ``input``, ``h0`` and every parameter.

    Raises:
        ValueError: ``training`` with a dropout other than 0 or 1 (its masks are the
            module's own).
    """
    config, case = example.config, example.case
    samples = SAMPLES + 1
    rounding, sums = Rounding(example), Sums()
    inputs = make_inputs(config, case, example.dtype, "cpu")
    x = _replicated(inputs.padded, samples, gradients)
    given = inputs.h0
    if given is None:
        batch = [case.batch] if case.batched else []
        shape = (config.num_layers * config.num_directions, *batch, config.state_size)
        given = torch.zeros(shape, dtype=F64)
    h0 = _replicated(given, samples, gradients and inputs.h0 is not None)
    weights = {n: _replicated(p, samples, gradients) for n, p in reference.named_parameters()}
    time_major = x if case.batched else x.unsqueeze(2)
    if case.batched and config.batch_first:
        time_major = time_major.transpose(1, 2)
    state0 = h0 if case.batched else h0.unsqueeze(2)
    mask = None
    if case.packed:
        steps = torch.arange(case.seq_len).view(-1, 1)
        mask = steps < torch.tensor(case.lengths or (), dtype=torch.int64).view(1, -1)
    output, h_n = _stack(
        config,
        time_major,
        state0,
        _layers(config, weights, cell=False),
        mask,
        training,
        rounding,
        sums,
    )
    if case.packed:
        packed = cast(PackedSequence, inputs.input)
        order = packed.sorted_indices
        rows = [
            output[:, t, (order[:size] if order is not None else slice(0, size))]
            for t, size in enumerate(packed.batch_sizes.tolist())
        ]
        output = torch.cat(rows, 1)
    elif not case.batched:
        output, h_n = output.squeeze(2), h_n.squeeze(2)
    elif config.batch_first:
        output = output.transpose(1, 2)
    results = {"output": output, "state": h_n}
    if gradients:
        leaves = {"input": x, "h0": h0, **weights}
        results |= _gradients(results, leaves, case, example.dtype, rounding)
    return _summarise(results, rounding, sums, weights, example.dtype)


def cell_sensitivity(
    reference: nn.Module, example: Example, gradients: bool = False
) -> Sensitivity:
    """The sensitivity of torch's cell ``reference`` on ``example``: its ``state`` (an
    LSTMCell's ``(h', c')`` joined); with ``gradients``, the gradients of ``<g, state>``
    with respect to ``input``, ``hx`` and every parameter."""
    config, case = example.config, example.case
    samples = SAMPLES + 1
    rounding, sums = Rounding(example), Sums()
    inputs = make_cell_inputs(config, case, example.dtype, "cpu")
    x = _replicated(inputs.padded, samples, gradients)
    given = inputs.h0
    if given is None:
        given = torch.zeros(*inputs.padded.shape[:-1], config.state_size, dtype=F64)
    hx = _replicated(given, samples, gradients and inputs.h0 is not None)
    weights = {n: _replicated(p, samples, gradients) for n, p in reference.named_parameters()}
    batched = x if case.batched else x.unsqueeze(1)
    state = hx if case.batched else hx.unsqueeze(1)
    cell = ModuleConfig(
        config.input_size,
        config.hidden_size,
        nonlinearity=config.nonlinearity,
        family=config.family,
    )
    _, final = _direction(
        cell.kind,
        batched.unsqueeze(1),
        _split(cell, state),
        _layers(cell, weights, cell=True)[0],
        False,
        None,
        cell.nonlinearity,
        rounding,
        sums,
    )
    result = _join(final)
    results = {"state": result if case.batched else result.squeeze(1)}
    if gradients:
        leaves = {"input": x, "hx": hx, **weights}
        results |= _gradients(results, leaves, case, example.dtype, rounding)
    return _summarise(results, rounding, sums, weights, example.dtype)


def _gradients(
    results: dict[str, Tensor],
    leaves: dict[str, Tensor],
    case: Any,
    dtype: torch.dtype,
    rounding: Rounding,
) -> dict[str, Tensor]:
    """The gradients of ``<g, result>`` summed over the results (the case's upstream
    gradients ``g``, rounded to ``dtype``), per sample, with respect to each leaf that
    requires one (zeros elsewhere); each result's gradient rounded where it arrives."""
    values = list(results.values())
    pair = upstream_grads(values[0][0], values[-1][0], case, precision=dtype)
    upstream = pair if len(values) == 2 else pair[:1]
    loss = cast(Tensor, sum((rounding.back(value) * g).sum() for value, g in zip(values, upstream)))
    wanted = {name: leaf for name, leaf in leaves.items() if leaf.requires_grad}
    grads = torch.autograd.grad(loss, list(wanted.values()), allow_unused=True)
    found = {
        name: torch.zeros_like(leaf) if grad is None else grad
        for (name, leaf), grad in zip(wanted.items(), grads)
    }
    return {name: found.get(name, torch.zeros_like(leaf)) for name, leaf in leaves.items()}


def _summarise(
    results: dict[str, Tensor],
    rounding: Rounding,
    sums: Sums,
    weights: dict[str, Tensor],
    dtype: torch.dtype,
) -> Sensitivity:
    """Each result's exact value (sample 0), the root-mean-square distance of the others from
    it (infinite where a sum on the way may overflow the tested dtype: nothing can be
    judged), and its floor: the rounding of its last operation (``u |value|``), and for a
    weight's gradient the bound of its sum over every step and batch row."""
    exact, spread, floor = {}, {}, {}
    overflows = rounding.peak >= rounding.overflow
    for name, value in results.items():
        value = value.detach()
        exact[name] = value[0]
        spread[name] = (value[1:] - value[0]).pow(2).mean(0).sqrt()
        if overflows:
            spread[name] = torch.full_like(spread[name], math.inf)
        floor[name] = rounding.u * value[0].abs()
        weight = weights.get(name)
        if weight is not None and id(weight) in sums.magnitude:
            terms = sums.terms[id(weight)]
            floor[name] = floor[name] + rounding.u * math.sqrt(terms) * sums.magnitude[id(weight)]
    return Sensitivity(exact, spread, floor, dtype)
