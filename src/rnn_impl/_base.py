"""``RNNBase``: what ``rnn_impl.RNN``, ``GRU`` and ``LSTM`` share, as ``torch.nn.RNNBase`` is
for torch's: the constructor's validation and parameters, nn.RNNBase's check methods, and a
forward for a single state tensor (RNN, GRU; :class:`rnn_impl.LSTM` adds its cell state)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import Parameter, init
from torch.nn.utils.rnn import PackedSequence

from rnn_impl import _checks, _layout, ops
from rnn_impl._recurrence import run_layer, run_stack
from rnn_impl._steps import STEPS, Hidden, LayerWeights

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}
"""Rows of ``W_ih`` / ``W_hh`` per hidden feature, by mode."""


class RNNBase(nn.Module):
    """The layers, parameters and checks of one recurrent stack; see :class:`rnn_impl.RNN`
    for the arguments. ``mode`` is nn.RNNBase's: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"GRU"`` or
    ``"LSTM"``; ``proj_size`` is the LSTM's (0 elsewhere)."""

    __constants__ = [
        "mode",
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
        "proj_size",
    ]

    mode: str
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool
    proj_size: int

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        _checks.check_rnn_args(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size, stacklevel=3
        )

        factory = {"device": device, "dtype": dtype}
        if mode not in GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        # nn.RNNBase takes hidden_size itself for an Elman RNN (so a bool fails in torch.empty)
        gate_size = hidden_size if GATES[mode] == 1 else GATES[mode] * hidden_size
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(self.num_directions):
                layer_input_size = (
                    input_size if layer == 0 else real_hidden_size * self.num_directions
                )
                shapes: list[tuple[int, ...]] = [
                    (gate_size, layer_input_size),
                    (gate_size, real_hidden_size),
                ]
                kinds = ["weight_ih", "weight_hh"]
                if bias:
                    shapes += [(gate_size,), (gate_size,)]
                    kinds += ["bias_ih", "bias_hh"]
                if proj_size > 0:
                    shapes.append((proj_size, hidden_size))
                    kinds.append("weight_hr")
                suffix = "_reverse" if direction == 1 else ""
                names = [f"{kind}_l{layer}{suffix}" for kind in kinds]
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(torch.empty(shape, **factory)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(H), 1/sqrt(H)), in registration order."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op, kept so code written for torch's modules runs unchanged (there is no cuDNN
        buffer)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """Parameters per (layer, direction), in torch's nesting and order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def layer_weights(self) -> list[LayerWeights]:
        """The :class:`~rnn_impl.LayerWeights` of each layer and direction (layer-major,
        forward direction first), read now (so that ``torch.func.functional_call`` and
        reassigned parameters take effect), by position in torch's order (``W_ih, W_hh[, b_ih,
        b_hh][, W_hr]``), whatever the names. A name no longer among the parameters is looked
        up as an attribute, with Python's error."""
        params = self._parameters
        weights = []
        for names in self._all_weights:
            w_ih, w_hh, *rest = [params[n] if n in params else getattr(self, n) for n in names]
            b_ih, b_hh = rest[:2] if len(rest) >= 2 else (None, None)
            w_hr = rest[-1] if len(rest) % 2 else None
            weights.append(LayerWeights(w_ih, w_hh, b_ih, b_hh, w_hr))  # type: ignore[arg-type]
        return weights

    @property
    def num_directions(self) -> int:
        """2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the stack over ``input`` from ``hx`` (zeros if omitted): ``(output, h_n)``.

        torch's order: rank checks, :meth:`permute_hidden` of ``hx`` into the packed order,
        :meth:`check_forward_args`, the recurrence, then :meth:`permute_hidden` of ``h_n``
        back; a subclass that overrides one of these changes behaviour as on torch's module.
        """
        layout = _layout.from_caller(input, hx, self.batch_first, self._name())
        data, batch_sizes = layout.data, layout.batch_sizes
        if layout.hx is None:
            hx = self._zero_state(layout.batch_size, data)
        else:
            hx = self.permute_hidden(layout.hx, layout.sorted_indices)
        self.check_forward_args(data, hx, batch_sizes)
        output, h_n = self._run(data, hx, layout)
        result, h_n = layout.to_caller(output, h_n)
        return result, self.permute_hidden(h_n, layout.unsorted_indices)

    def _name(self) -> str:
        """The module's name in its rank errors: ``RNN``, ``GRU`` or ``LSTM``."""
        return "RNN" if self.mode.startswith("RNN") else self.mode

    def _run(self, data: Tensor, hx: Hidden, layout: _layout.Layout) -> tuple[Tensor, Any]:
        """The recurrence over the checked input, in the recurrence's batch order."""
        weights = self.layer_weights()
        x = layout.time_major()
        if layout.batch_sizes is None:
            flat = [w for layer in weights for w in layer if w is not None]
            _checks.check_devices(x, hx, flat)
            _checks.check_seq_len(x.size(0))
            sizes = None
        else:
            sizes = layout.batch_sizes.tolist()
        return self.recurrence(x, hx, weights, sizes)

    def _zero_state(self, batch_size: int, like: Tensor) -> Any:
        """The initial state when ``hx`` is omitted: zeros ``(D * num_layers, N, H_out)``."""
        shape = (self.num_layers * self.num_directions, batch_size, self._output_size())
        return torch.zeros(shape, dtype=like.dtype, device=like.device)

    def _output_size(self) -> int:
        """``H_out``: ``proj_size`` when projecting, else ``hidden_size``."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def recurrence(
        self,
        input: Tensor,
        hx: Hidden,
        weights: list[LayerWeights],
        batch_sizes: list[int] | None = None,
    ) -> tuple[Tensor, Any]:
        """Every layer and direction over time-major ``input`` ``(L, N, H_in)`` (or a packed
        sequence's ``data`` with its ``batch_sizes``) from ``hx`` (in packed order), in ATen's
        order: each through :meth:`layer`, the directions' outputs joined on the last
        dimension, dropout between layers in training mode. Returns ``(output, h_n)``:
        ``(L, N, D * H_out)`` (packed: ``(sum(batch_sizes), D * H_out)``) and a state like
        ``hx``. Forward has checked and laid out the arguments; override this to change how
        the layers are stacked.

        Traced by ``torch.compile`` or ``torch.export``, a padded stack whose :meth:`layer`
        and :meth:`step` are not overridden is one operation (:func:`rnn_impl.ops.stack`)."""
        p = self.dropout if self.training else 0.0
        stock = type(self).layer is RNNBase.layer and type(self).step is RNNBase.step
        if batch_sizes is None and stock and ops.stack_traced(input, hx, weights, p):
            return ops.compiled_stack(
                input, hx, weights, self.mode, self.num_layers, bool(self.bidirectional), p
            )
        return run_stack(
            input,
            hx,
            weights,
            self.num_layers,
            bool(self.bidirectional),
            batch_sizes,
            self.layer,
            None if p == 0 else lambda output, index: ops.dropout(output, p),
        )

    def layer(
        self,
        input: Tensor,
        state: Hidden,
        weights: LayerWeights,
        reverse: bool = False,
        batch_sizes: Sequence[int] | None = None,
    ) -> tuple[Tensor, Hidden]:
        """One layer and direction over the whole sequence: time-major ``input``
        ``(L, N, H_in)`` (or packed ``data`` with ``batch_sizes``) from ``state`` (``h``
        ``(N, H_out)``, an LSTM's ``(h, c)``), backwards in time when ``reverse``. Returns its
        output ``(L, N, H_out)`` in time order (packed: packed) and its final state. Every step
        is :meth:`step`; an Elman layer whose :meth:`step` is not overridden runs the fused
        fast path instead, with the same results."""
        own = type(self).step is not RNNBase.step
        if batch_sizes is None and not own and ops.traced():
            return ops.compiled_layer(input, state, weights, self.mode, reverse)
        step = self._overridden_step if own else None
        return run_layer(input, state, weights, self.mode, reverse, batch_sizes, step)

    def step(self, input: Tensor, state: Hidden, weights: LayerWeights) -> Hidden:
        """One time step of one layer and direction: the state after it, from that step's
        input already projected, ``input = x_t W_ih^T + b_ih`` ``(N, G * H)`` (ATen projects
        every step of a layer at once, first), the state before it (``h`` ``(N, H_out)``, an
        LSTM's ``(h, c)``) and the layer's :class:`~rnn_impl.LayerWeights`. What the layer
        emits is the new ``h``.

        The extension point for a custom cell: a subclass that overrides it changes every
        step of every layer and direction, for padded and packed input alike.

        Example::

            >>> from rnn_impl import RNN
            >>> class LeakyRNN(RNN):
            ...     def step(self, input, state, weights):
            ...         return 0.5 * state + 0.5 * super().step(input, state, weights)
            >>> output, h_n = LeakyRNN(3, 4)(torch.randn(5, 2, 3))
        """
        return STEPS[self.mode](input, state, weights, True)

    def _overridden_step(
        self, input: Tensor, state: Hidden, weights: LayerWeights, projected: bool
    ) -> Hidden:
        return self.step(input, state, weights)

    def check_input(self, input: Tensor, batch_sizes: Tensor | None) -> None:
        """torch's: the dtype (but under autocast), rank and feature size of ``input``."""
        dtype = self.layer_weights()[0].w_ih.dtype
        _checks.check_input(input, dtype, self.input_size, batch_sizes is not None)

    def get_expected_hidden_size(
        self, input: Tensor, batch_sizes: Tensor | None
    ) -> tuple[int, int, int]:
        """``(D * num_layers, N, H_out)`` for ``input`` (batch-major when ``batch_first``)."""
        return (
            self.num_layers * self.num_directions,
            self._mini_batch(input, batch_sizes),
            self._output_size(),
        )

    def _mini_batch(self, input: Tensor, batch_sizes: Tensor | None) -> int:
        if batch_sizes is not None:
            return int(batch_sizes[0])
        return input.size(0) if self.batch_first else input.size(1)

    def check_hidden_size(
        self,
        hx: Tensor,
        expected_hidden_size: tuple[int, int, int],
        msg: str = "Expected hidden size {}, got {}",
    ) -> None:
        """torch's: ``hx`` must have ``expected_hidden_size`` (RuntimeError with ``msg``)."""
        _checks.check_hidden_size(hx, expected_hidden_size, msg)

    def check_forward_args(self, input: Tensor, hidden: Any, batch_sizes: Tensor | None) -> None:
        """torch's: :meth:`check_input`, then :meth:`check_hidden_size` against
        :meth:`get_expected_hidden_size`."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Any, permutation: Tensor | None) -> Any:
        """torch's: ``hx`` with its batch dimension (1) reordered by ``permutation``."""
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)
