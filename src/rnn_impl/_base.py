"""``RNNBase``: what ``rnn_impl.RNN``, ``GRU`` and ``LSTM`` share, as ``torch.nn.RNNBase`` is
for torch's: the constructor's validation and parameters, nn.RNNBase's check methods, and a
forward for a single state tensor (RNN, GRU; :class:`rnn_impl.LSTM` adds its cell state)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import Parameter, init
from torch.nn.utils.rnn import PackedSequence

from rnn_impl import _checks, _layout
from rnn_impl._recurrence import run_stack
from rnn_impl._steps import Hidden, LayerWeights, Step

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

    def _layer_weights(self) -> list[LayerWeights]:
        """``(W_ih, W_hh, b_ih, b_hh, W_hr)`` per (layer, direction), read now (so that
        ``torch.func.functional_call`` and reassigned parameters take effect), by position in
        torch's order (``W_ih, W_hh[, b_ih, b_hh][, W_hr]``), whatever the names. A name no
        longer among the parameters is looked up as an attribute, with Python's error."""
        params = self._parameters
        weights = []
        for names in self._all_weights:
            w_ih, w_hh, *rest = [params[n] if n in params else getattr(self, n) for n in names]
            biases = rest[:2] if len(rest) >= 2 else [None, None]
            w_hr = rest[-1] if len(rest) % 2 else None
            weights.append((w_ih, w_hh, *biases, w_hr))
        return weights  # type: ignore[return-value]

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
        weights = self._layer_weights()
        x = layout.time_major()
        if layout.batch_sizes is None:
            flat = [w for layer in weights for w in layer if w is not None]
            _checks.check_devices(x, hx, flat)
            _checks.check_seq_len(x.size(0))
            sizes = None
        else:
            sizes = layout.batch_sizes.tolist()
        return self._stack(x, hx, weights, sizes)

    def _zero_state(self, batch_size: int, like: Tensor) -> Any:
        """The initial state when ``hx`` is omitted: zeros ``(D * num_layers, N, H_out)``."""
        shape = (self.num_layers * self.num_directions, batch_size, self._output_size())
        return torch.zeros(shape, dtype=like.dtype, device=like.device)

    def _output_size(self) -> int:
        """``H_out``: ``proj_size`` when projecting, else ``hidden_size``."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def _stack(
        self,
        x: Tensor,
        hx: Any,
        weights: list[LayerWeights],
        batch_sizes: list[int] | None,
        step: Step | None = None,
    ) -> tuple[Tensor, Any]:
        """The recurrence over time-major ``x`` (or packed data) from ``hx`` in packed order;
        ``step`` in place of the mode's (see :func:`rnn_impl._recurrence.run_stack`)."""
        return run_stack(
            x,
            hx,
            weights,
            self.mode,
            self.num_layers,
            bool(self.bidirectional),
            self.dropout,
            self.training,
            batch_sizes,
            step,
        )

    def check_input(self, input: Tensor, batch_sizes: Tensor | None) -> None:
        """torch's: the dtype (but under autocast), rank and feature size of ``input``."""
        dtype = getattr(self, self._flat_weights_names[0]).dtype
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
