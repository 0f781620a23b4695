"""Planted RNN bugs: each class is :class:`HookedRNN` with one realistic mistake.

Every docstring says the mistake and who makes it. The registry in
:mod:`rnn_impl.testing.zoo` names the property designed to catch each one; the kill-matrix
test checks at run time that it does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnn_impl import RNN, LayerWeights
from rnn_impl.testing.zoo._hooked import HookedRNN


class H0BatchFirst(HookedRNN):
    """h0 and h_n laid out batch-first when ``batch_first=True``.

    Who: anyone who reads "batch_first" as applying to every tensor (pytorch#4145)."""

    def arguments(self, input, hx):
        if self.batch_first and hx is not None and hx.dim() == 3:
            hx = hx.transpose(0, 1)
        return input, hx

    def results(self, input, output, h_n):
        batched = isinstance(input, PackedSequence) or input.dim() == 3
        return output, h_n.transpose(0, 1) if self.batch_first and batched else h_n


class ReverseNotFlippedBack(HookedRNN):
    """The reverse direction's outputs are left in processing order, not time order.

    Who: a first bidirectional RNN, tested only on h_n."""

    def restore_order(self, outputs):
        return outputs


class ReverseHnWrongStep(HookedRNN):
    """The reverse direction's h_n is taken at the last time step, like the forward one's.

    Who: someone indexing ``output[-1]`` for both directions (pytorch#3587)."""

    def last_state(self, h, outputs, reverse):
        return outputs[-1] if reverse else h


class DropoutOnLastLayer(HookedRNN):
    """Dropout applied after every layer, the last one included.

    Who: someone who reads "dropout on the outputs of each layer"."""

    def between_layers(self, layer_output, layer):
        if self.dropout != 0 and self.training:
            return torch.dropout(layer_output, self.dropout, True)
        return layer_output


class DropoutInEval(HookedRNN):
    """Dropout applied whatever ``self.training`` says.

    Who: someone calling ``F.dropout(x, p)`` without ``training=self.training``."""

    def between_layers(self, layer_output, layer):
        if self.dropout != 0 and layer < self.num_layers - 1:
            return torch.dropout(layer_output, self.dropout, True)
        return layer_output


class DropoutBatchMajor(HookedRNN):
    """Dropout drawn on a batch-major copy: valid statistics, different masks from nn.RNN.

    Who: a batch_first implementation that keeps its tensors batch-major throughout."""

    def between_layers(self, layer_output, layer):
        if self.dropout != 0 and self.training and layer < self.num_layers - 1:
            dropped = torch.dropout(layer_output.transpose(0, 1).contiguous(), self.dropout, True)
            return dropped.transpose(0, 1)
        return layer_output


class MissingBias(HookedRNN):
    """``b_hh`` is never added (only ``b_ih``).

    Who: someone following a textbook with a single bias vector."""

    def step(self, input, state, weights):
        return self.activation(F.linear(state, weights.w_hh) + input)


class DoubledBias(HookedRNN):
    """``b_ih`` is added twice: once by ``F.linear`` and once by hand.

    Who: someone adding the bias explicitly to a ``linear`` that already has it."""

    def project(self, x, w_ih, b_ih):
        pre = F.linear(x, w_ih, b_ih)
        return pre if b_ih is None else pre + b_ih


class TransposedInputWeight(HookedRNN):
    """``x @ W_ih`` instead of ``x @ W_ih.T``: shape-valid only when input_size == hidden_size.

    Who: someone porting from a framework that stores weights as (in, out)."""

    def project(self, x, w_ih, b_ih):
        return F.linear(x, w_ih.t(), b_ih)


class ActivationSwapped(HookedRNN):
    """Always tanh, whatever ``nonlinearity`` says.

    Who: someone who hard-codes the usual choice and never tests relu."""

    def activation(self, x):
        return torch.tanh(x)


class LayerFedOriginalInput(HookedRNN):
    """Every layer reads the original input: shape-valid only when input_size == D * H.

    Who: someone writing ``layer(x)`` in a loop instead of chaining."""

    def next_input(self, layer, x, outputs):
        return x


class ThirdLayerFedFirstOutput(HookedRNN):
    """Layers 2 and up read layer 0's output: shows only with num_layers >= 3.

    Who: someone who tested with one and two layers."""

    def next_input(self, layer, x, outputs):
        return outputs[0] if layer >= 2 else outputs[-1]


class HalvesSwapped(HookedRNN):
    """Bidirectional halves concatenated reverse-first.

    Who: someone appending the directions in the order they were computed, backwards."""

    def join(self, outputs):
        return torch.cat(outputs[::-1], -1) if len(outputs) == 2 else outputs[0]


class PackedIndicesIgnored(HookedRNN):
    """A PackedSequence's sorted/unsorted indices are dropped: h0 and h_n stay in sorted order.

    Who: someone who only ever packs with ``enforce_sorted=True``."""

    def arguments(self, input, hx):
        if isinstance(input, PackedSequence) and input.sorted_indices is not None:
            input = PackedSequence(input.data, input.batch_sizes)
        return input, hx


class OffByOneTime(HookedRNN):
    """``output[t]`` holds the state before step t, not after it (h_n is right).

    Who: someone appending the state at the top of the loop."""

    def emitted(self, before, after):
        return before


class H0Ignored(HookedRNN):
    """The given h0 is ignored: every call starts from zeros.

    Who: someone who wrote ``hidden = zeros(...)`` and forgot the argument."""

    def arguments(self, input, hx):
        return input, None


class H0FirstSequenceOnly(HookedRNN):
    """Every sequence starts from the first sequence's h0.

    Who: someone who developed with batch size 1."""

    def arguments(self, input, hx):
        if hx is not None and hx.dim() == 3 and hx.size(1) > 0:
            hx = hx[:, :1].expand_as(hx)
        return input, hx


class DetachedState(HookedRNN):
    """The state is detached between steps: right outputs, wrong gradients (truncated BPTT
    where full BPTT was meant).

    Who: someone copying a truncated-BPTT trick into the module itself."""

    def step(self, input, state, weights):
        return super().step(input, state.detach(), weights)


class FirstOrderOnlyBackward(HookedRNN):
    """A hand-written tanh backward on a detached output: gradients are right, but double
    backward (gradgradcheck, Hessian-vector products) is wrong.

    Who: someone speeding up BPTT with an autograd.Function whose backward is not itself
    differentiable."""

    def activation(self, x):
        return _TanhFirstOrderOnly.apply(x) if self.mode == "RNN_TANH" else torch.relu(x)


class _TanhFirstOrderOnly(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y.detach() ** 2)


class SilentUpcast(HookedRNN):
    """Results are returned in float64 whatever the input's dtype.

    Who: someone who computed in double "for accuracy" and forgot to cast back."""

    def results(self, input, output, h_n):
        return output.double(), h_n.double()


class AutocastOff(HookedRNN):
    """Autocast switched off around the recurrence: under ``torch.autocast`` the results come
    back in float32, not in the autocast dtype nn.RNN returns.

    Who: someone keeping the recurrence in float32 "for stability" under mixed precision."""

    def forward(self, input, hx=None):  # type: ignore[override]
        with torch.autocast("cpu", enabled=False):
            return super().forward(input, hx)


class LowPrecisionAccumulation(HookedRNN):
    """Matrix products are accumulated in bfloat16 and cast back.

    Who: someone enabling reduced-precision matmuls for speed."""

    def project(self, x, w_ih, b_ih):
        return _bf16_linear(x, w_ih, b_ih)

    def step(self, input, state, weights):
        return self.activation(_bf16_linear(state, weights.w_hh, weights.b_hh) + input)


def _bf16_linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    low = F.linear(x.bfloat16(), w.bfloat16(), None if b is None else b.bfloat16())
    return low.to(x.dtype)


class LayoutGuessing(HookedRNN):
    """Square ``(T, B)`` inputs are "detected" as batch-first: shows only when batch == seq_len.

    Who: someone trying to be helpful about layouts."""

    def recurrence(self, input, hx, weights, batch_sizes=None):
        if batch_sizes is None and not self.batch_first and input.size(0) == input.size(1):
            input = input.transpose(0, 1)
        return super().recurrence(input, hx, weights, batch_sizes)


class UnbatchedWrongAxis(HookedRNN):
    """Unbatched input gets its batch axis in front, so every step becomes its own sequence.

    Who: someone who always writes ``x.unsqueeze(0)``."""

    def forward(self, input, hx=None):
        if isinstance(input, Tensor) and input.dim() == 2 and not self.batch_first:
            steps = input.size(0)
            if hx is not None and hx.dim() == 2:
                hx = hx.unsqueeze(1).expand(-1, steps, -1).contiguous()
            output, h_n = super().forward(input.unsqueeze(0), hx)
            return output.squeeze(0), h_n[:, -1]
        return super().forward(input, hx)


class WrongInitDistribution(HookedRNN):
    """Parameters drawn from N(0, 1/H) rather than U(-1/sqrt(H), 1/sqrt(H)).

    Who: someone who "knows" RNNs are initialised with a Gaussian."""

    def reset_parameters(self):
        for weight in self.parameters():
            nn.init.normal_(weight, 0.0, 1.0 / self.hidden_size)


class WrongParameterNames(HookedRNN):
    """Parameters named ``weight_ih_0`` (no ``l``): state dicts do not load either way.

    Who: someone who named things from memory."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, param in list(self.named_parameters()):
            delattr(self, name)
            self.register_parameter(name.replace("_l", "_"), param)

    @property
    def all_weights(self):
        layers = self.num_layers * self.num_directions
        return [[w for w in self.layer_weights()[i] if w is not None] for i in range(layers)]

    def layer_weights(self):
        found = []
        for layer in range(self.num_layers):
            for suffix in ["", "_reverse"][: self.num_directions]:
                parts = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
                weights = [getattr(self, f"{part}_{layer}{suffix}") for part in parts]
                found.append(LayerWeights(*weights, *[None] * (4 - len(weights))))
        return found


class DifferentErrorMessage(HookedRNN):
    """A wrong h0 shape raises a home-made ValueError instead of nn.RNN's RuntimeError.

    Who: someone improving the error messages."""

    def check_hidden_size(self, hx, expected, msg=""):
        if hx.size() != expected:
            raise ValueError(f"bad hidden state: {tuple(hx.shape)}")


class DifferentConstructorMessage(HookedRNN):
    """Invalid constructor arguments are re-raised as one generic ValueError.

    Who: someone wrapping validation in a friendly message."""

    def __init__(self, *args, **kwargs):
        try:
            super().__init__(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            raise ValueError("invalid RNN arguments") from exc


class CellOrderConstructor(HookedRNN):
    """Constructor with RNNCell's order (``bias`` before ``nonlinearity``).

    Who: someone who wrote an RNNCell first."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        nonlinearity="tanh",
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        device=None,
        dtype=None,
    ):
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            nonlinearity=nonlinearity,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
        )


class ReprShowsNonlinearity(HookedRNN):
    """``repr`` always shows the nonlinearity (nn.RNN never does).

    Who: someone who wrote their own ``extra_repr``."""

    def extra_repr(self):
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class LambdaActivation(HookedRNN):
    """The activation is stored as a lambda attribute: the module cannot be pickled.

    Who: someone choosing the activation once in ``__init__``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.act = (
            (lambda x: torch.tanh(x)) if self.mode == "RNN_TANH" else (lambda x: torch.relu(x))
        )

    def activation(self, x):
        return self.act(x)


class CachedWeights(HookedRNN):
    """Raw weight tensors cached at construction: ``.double()`` / ``.to()`` leave the cache
    behind (and gradients never reach the parameters).

    Who: someone caching ``[p.detach() for p in ...]`` to save attribute look-ups."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cache = [
            LayerWeights(*(None if w is None else w.detach() for w in group))
            for group in super().layer_weights()
        ]

    def layer_weights(self):
        return self.cache


class H0OnDefaultDevice(HookedRNN):
    """The zero h0 is created on the default device, not the input's.

    Who: everyone's first RNN (the notebook's too); it shows on any other device."""

    def arguments(self, input, hx):
        if hx is None:
            if isinstance(input, PackedSequence):
                batch = [int(input.batch_sizes[0])]
            elif input.dim() == 3:
                batch = [input.size(0 if self.batch_first else 1)]
            else:
                batch = []
            shape = (self.num_layers * self.num_directions, *batch, self.hidden_size)
            hx = torch.zeros(shape, dtype=input.data.dtype)
        return input, hx


CONTROL = HookedRNN
"""The unmodified hooked RNN: killed by no property (checked), so the bugs' kills are theirs."""

__all__ = [
    name for name, value in globals().items() if isinstance(value, type) and issubclass(value, RNN)
]


# Subtle bugs: each shows in only part of the input space, as the bugs people ship do.


class MisalignedStepState(HookedRNN):
    """Each step's state lives in one preallocated ``(T, B, H)`` buffer; where a step's slice
    does not start on a 16-byte boundary the step takes another route (``h @ W^T`` and then
    ``pre + b``, not ``addmm``), a few ulp off for some data. The bug rnn_impl's own fast path
    had on AMD EPYC, here on every CPU (the two routes differ by the order of two additions,
    which IEEE rounding decides, not the BLAS): only when ``B*H*itemsize`` is not a multiple
    of 16, from step 2.

    Who: anyone writing a fast loop over one output buffer whose BLAS rounds by alignment."""

    def direction(self, x, h, weights, reverse):
        w_ih, w_hh, b_ih, b_hh, _ = weights
        pre = self.project(x, w_ih, b_ih)
        out = torch.empty_like(pre)
        for t in reversed(range(pre.size(0))) if reverse else range(pre.size(0)):
            if h.data_ptr() % 16 and b_hh is not None:
                total = h @ w_hh.t() + (pre[t] + b_hh)
            else:
                total = F.linear(h, w_hh, b_hh) + pre[t]
            out[t] = self.activation(total)
            h = out[t]
        return out, h


class TruncatedBackward(HookedRNN):
    """Backpropagation through time stops every 32 steps (the state is detached): outputs are
    right, gradients differ only for sequences longer than 32 steps.

    Who: truncated BPTT left on inside the module after training on long sequences."""

    EVERY = 32

    def layer(self, input, state, weights, reverse=False, batch_sizes=None):
        self.steps_taken = 0
        return super().layer(input, state, weights, reverse, batch_sizes)

    def step(self, input, state, weights):
        self.steps_taken += 1
        if self.steps_taken % self.EVERY == 0:
            state = state.detach()
        return super().step(input, state, weights)


class LongSequenceChunks(HookedRNN):
    """Inputs of more than 100 steps (or packed rows) are projected in chunks of 64 steps,
    each accumulated in float64 and cast back "against drift": a few ulp off, only for long
    sequences.

    Who: someone bounding the projection's memory and error for long sequences."""

    def project(self, x, w_ih, b_ih):
        if x.size(0) <= 100 or x.dtype == torch.float64:
            return super().project(x, w_ih, b_ih)
        bias = None if b_ih is None else b_ih.double()
        chunks = [F.linear(c.double(), w_ih.double(), bias).to(x.dtype) for c in x.split(64)]
        return torch.cat(chunks)


class WideLayerBlocked(HookedRNN):
    """For hidden sizes above 48 the recurrent product is blocked over its inner dimension
    (two half products added): another summation order, a few ulp off, only in wide layers.

    Who: someone hand-tiling the matrix product for cache size."""

    def step(self, input, state, weights):
        if self.hidden_size <= 48:
            return super().step(input, state, weights)
        k, w_hh = self.hidden_size // 2, weights.w_hh
        linear = F.linear(state[..., :k], w_hh[:, :k], weights.b_hh)
        linear = linear + F.linear(state[..., k:], w_hh[:, k:])
        return self.activation(linear + input)


class ReverseDeepStateDropped(HookedRNN):
    """In stacks of three or more layers, the reverse direction of every layer after the
    second starts from zeros instead of its h0 when the batch has two or more rows.

    Who: an index into h0 computed with the batch size in it, tested on shallow stacks."""

    def recurrence(self, input, hx, weights, batch_sizes=None):
        if self.num_layers >= 3 and self.bidirectional and hx.size(1) >= 2:
            hx = hx.clone()
            hx[5::2] = 0  # layer >= 2, reverse direction
        return super().recurrence(input, hx, weights, batch_sizes)


class TiedPackedLengths(HookedRNN):
    """For packed input, the final states of sequences with tied lengths come back in the
    wrong order (an unstable sort of the lengths): h_n is wrong only where lengths tie.

    Who: someone restoring the caller's order with their own sort."""

    def results(self, input, output, h_n):
        if isinstance(output, PackedSequence) and h_n.size(1) >= 2:
            sizes = output.batch_sizes
            order = output.unsorted_indices
            lengths = [int((sizes > i).sum()) for i in range(int(sizes[0]))]
            if order is not None:
                lengths = [lengths[int(i)] for i in order]
            tied = [
                (i, j) for i in range(len(lengths)) for j in range(i) if lengths[i] == lengths[j]
            ]
            if tied:
                i, j = tied[0]
                h_n = h_n.index_select(1, _swap(h_n.size(1), i, j, h_n.device))
        return output, h_n


def _swap(n: int, i: int, j: int, device: torch.device) -> Tensor:
    index = list(range(n))
    index[i], index[j] = j, i
    return torch.tensor(index, device=device)


class ReluNoBiasLeaky(HookedRNN):
    """With ``nonlinearity='relu'`` and ``bias=False`` the activation is a leaky ReLU (slope
    0.01): right in every other configuration.

    Who: a port from a framework whose bias-free ReLU layer defaults to leaky."""

    def activation(self, x):
        if self.mode == "RNN_RELU" and not self.bias:
            return F.leaky_relu(x, 0.01)
        return super().activation(x)
