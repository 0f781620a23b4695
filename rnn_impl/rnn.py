"""``rnn_impl.RNN``: a from-scratch drop-in for ``torch.nn.RNN``."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import Parameter, init
from torch.nn.utils.rnn import PackedSequence

from rnn_impl import _checks, _layout
from rnn_impl._recurrence import ACTIVATIONS, LayerWeights, run_stack


class RNN(nn.Module):
    r"""A multi-layer Elman RNN with tanh or ReLU, written from primitive ops.

    For each element of the input sequence, each layer computes
    :math:`h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})`.

    Constructor, parameters (names, shapes, registration order, initialisation), ``repr``,
    errors and results are those of ``torch.nn.RNN``; outputs are bit-identical on CPU.

    Args:
        input_size: features in the input ``x``.
        hidden_size: features in the hidden state ``h``.
        num_layers: stacked recurrent layers. Default: 1
        nonlinearity: ``'tanh'`` or ``'relu'``. Default: ``'tanh'``
        bias: if ``False``, no ``b_ih`` / ``b_hh``. Default: ``True``
        batch_first: input and output are ``(B, T, *)``; h0 / h_n never are. Default: ``False``
        dropout: dropout probability on each layer's output except the last, in training
            mode. Default: 0
        bidirectional: if truthy, a reverse direction per layer. Default: ``False``

    Inputs: input, hx
        - **input**: ``(T, I)`` unbatched, ``(T, B, I)``, ``(B, T, I)`` when ``batch_first``,
          or a ``PackedSequence``.
        - **hx**: ``(D * num_layers, H)`` unbatched or ``(D * num_layers, B, H)``, in the
          caller's batch order; zeros if omitted.

    Outputs: output, h_n
        - **output**: ``(T, D * H)``, ``(T, B, D * H)``, ``(B, T, D * H)``, or a
          ``PackedSequence`` like the input's; the two directions are concatenated on the
          last dimension, forward first.
        - **h_n**: ``(D * num_layers, [B,] H)``, the final state of each layer and direction
          (layer-major, forward then reverse); the reverse direction's is that of step 0.
    """

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
    nonlinearity: str
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
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> None:
        _checks.reject_extra_kwargs(kwargs)
        super().__init__()
        self.nonlinearity = nonlinearity
        self.mode = _checks.mode_for(nonlinearity)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        _checks.check_rnn_args(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, stacklevel=2
        )

        factory = {"device": device, "dtype": dtype}
        num_directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else hidden_size * num_directions
                shapes: list[tuple[int, ...]] = [
                    (hidden_size, layer_input_size),
                    (hidden_size, hidden_size),
                ]
                kinds = ["weight_ih", "weight_hh"]
                if bias:
                    shapes += [(hidden_size,), (hidden_size,)]
                    kinds += ["bias_ih", "bias_hh"]
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
        """A no-op, kept so code written for nn.RNN runs unchanged (there is no cuDNN buffer)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """Parameters per (layer, direction), in nn.RNN's nesting and order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _layer_weights(self) -> list[LayerWeights]:
        """``(W_ih, W_hh, b_ih, b_hh)`` per (layer, direction), read now (so that
        ``torch.func.functional_call`` and reassigned parameters take effect). A name no
        longer among the parameters is looked up as an attribute, with Python's error."""
        params = self._parameters
        weights = []
        for names in self._all_weights:
            tensors = [params[n] if n in params else getattr(self, n) for n in names]
            if len(tensors) == 2:
                tensors += [None, None]
            weights.append(tuple(tensors))
        return weights  # type: ignore[return-value]

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        layout = _layout.from_caller(input, hx, self.batch_first)
        weights = self._layer_weights()
        num_directions = 2 if self.bidirectional else 1
        data = layout.data
        hx = layout.hx
        if hx is None:
            hx = torch.zeros(
                self.num_layers * num_directions,
                layout.batch_size,
                self.hidden_size,
                dtype=data.dtype,
                device=data.device,
            )
        _checks.check_input(data, weights[0][0].dtype, self.input_size, layout.packed)
        expected = (self.num_layers * num_directions, layout.batch_size, self.hidden_size)
        _checks.check_hidden_size(hx, expected)
        x = layout.time_major()
        batch_sizes = None
        if layout.batch_sizes is not None:
            batch_sizes = layout.batch_sizes.tolist()
        else:
            flat = [w for layer in weights for w in layer if w is not None]
            _checks.check_devices(x, hx, flat)
            _checks.check_seq_len(x.size(0))
        output, h_n = run_stack(
            x,
            hx,
            weights,
            ACTIVATIONS[self.mode],
            self.num_layers,
            bool(self.bidirectional),
            self.dropout,
            self.training,
            batch_sizes,
        )
        return layout.to_caller(output, h_n)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
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
