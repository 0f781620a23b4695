"""``rnn_impl.RNN``: a from-scratch drop-in for ``torch.nn.RNN``."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import Parameter, init
from torch.nn.utils.rnn import PackedSequence

from rnn_impl import _checks, _layout
from rnn_impl._recurrence import run_stack
from rnn_impl._steps import ACTIVATIONS, LayerWeights


class RNN(nn.Module):
    r"""A multi-layer Elman RNN with tanh or ReLU, written from primitive ops.

    For each element of the input sequence, each layer computes

    .. math::
        h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

    where :math:`h_t` is the hidden state at time ``t``, :math:`x_t` the input at time ``t``
    (for layers after the first, the previous layer's output, dropped out in training mode
    when ``dropout > 0``) and :math:`h_{t-1}` the layer's state at ``t-1`` or its initial
    state at time 0; ``relu`` replaces :math:`\tanh` when ``nonlinearity='relu'``.

    Constructor, parameters (names, shapes, registration order, initialisation), ``repr``,
    check methods, errors and results are those of ``torch.nn.RNN``; outputs are
    bit-identical on CPU.

    Args:
        input_size: features in the input ``x``.
        hidden_size: features in the hidden state ``h``.
        num_layers: stacked recurrent layers. Default: 1
        nonlinearity: ``'tanh'`` or ``'relu'``. Default: ``'tanh'``
        bias: if ``False``, no ``b_ih`` / ``b_hh``. Default: ``True``
        batch_first: input and output are ``(N, L, *)``; h0 / h_n never are. Default: ``False``
        dropout: dropout probability on each layer's output except the last, in training
            mode. Default: 0
        bidirectional: if truthy, a reverse direction per layer. Default: ``False``
        device: where the parameters are created. Default: the default device
        dtype: the parameters' dtype. Default: the default dtype

    Inputs: input, hx
        - **input**: ``(L, H_in)`` unbatched, ``(L, N, H_in)``, ``(N, L, H_in)`` when
          ``batch_first``, or a ``PackedSequence``.
        - **hx**: ``(D * num_layers, H_out)`` unbatched or ``(D * num_layers, N, H_out)``, in
          the caller's batch order; zeros if omitted.

    Outputs: output, h_n
        - **output**: ``(L, D * H_out)``, ``(L, N, D * H_out)``, ``(N, L, D * H_out)``, or a
          ``PackedSequence`` like the input's; the two directions are concatenated on the
          last dimension, forward first.
        - **h_n**: ``(D * num_layers, H_out)`` or ``(D * num_layers, N, H_out)``, the final
          state of each layer and direction (layer-major, forward then reverse); the reverse
          direction's is that of step 0.

    where:

    .. math::
        \begin{aligned}
            N ={} & \text{batch size} \\
            L ={} & \text{sequence length} \\
            D ={} & 2 \text{ if bidirectional else } 1 \\
            H_{in} ={} & \text{input\_size} \\
            H_{out} ={} & \text{hidden\_size}
        \end{aligned}

    Attributes:
        weight_ih_l[k]: ``(hidden_size, input_size)`` for ``k = 0``, else
            ``(hidden_size, D * hidden_size)``: the input-hidden weights of layer ``k``.
        weight_hh_l[k]: ``(hidden_size, hidden_size)``: the hidden-hidden weights of layer ``k``.
        bias_ih_l[k], bias_hh_l[k]: ``(hidden_size)``: the biases of layer ``k`` (when ``bias``).
        ``*_reverse``: the same for the reverse direction (when ``bidirectional``).
        num_directions: ``D`` (read-only; not an nn.RNN attribute).

    All weights and biases are initialised from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`,
    :math:`k = 1 / \text{hidden\_size}`, in registration order, as nn.RNN does.

    Examples::

        >>> rnn = RNN(10, 20, 2)
        >>> input = torch.randn(5, 3, 10)
        >>> h0 = torch.randn(2, 3, 20)
        >>> output, hn = rnn(input, h0)
        >>> output.shape, hn.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
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
        num_directions = self.num_directions
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

    @property
    def num_directions(self) -> int:
        """2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the stack over ``input`` from ``hx`` (zeros if omitted): ``(output, h_n)``.

        nn.RNN's order: rank checks, :meth:`permute_hidden` of ``hx`` into the packed order,
        :meth:`check_forward_args`, the recurrence, then :meth:`permute_hidden` of ``h_n``
        back; a subclass that overrides one of these changes behaviour as on nn.RNN.
        """
        layout = _layout.from_caller(input, hx, self.batch_first)
        data, batch_sizes = layout.data, layout.batch_sizes
        if layout.hx is None:
            hx = self._zero_state(layout.batch_size, data)
        else:
            hx = self.permute_hidden(layout.hx, layout.sorted_indices)
        self.check_forward_args(data, hx, batch_sizes)
        weights = self._layer_weights()
        x = layout.time_major()
        if batch_sizes is None:
            flat = [w for layer in weights for w in layer if w is not None]
            _checks.check_devices(x, hx, flat)
            _checks.check_seq_len(x.size(0))
        sizes = None if batch_sizes is None else batch_sizes.tolist()
        output, h_n = self._stack(x, hx, weights, sizes)
        result, h_n = layout.to_caller(output, h_n)
        return result, self.permute_hidden(h_n, layout.unsorted_indices)

    def _zero_state(self, batch_size: int, like: Tensor) -> Tensor:
        """The initial state when ``hx`` is omitted: zeros ``(D * num_layers, N, H_out)``."""
        shape = (self.num_layers * self.num_directions, batch_size, self.hidden_size)
        return torch.zeros(shape, dtype=like.dtype, device=like.device)

    def _stack(
        self, x: Tensor, hx: Tensor, weights: list[LayerWeights], batch_sizes: list[int] | None
    ) -> tuple[Tensor, Tensor]:
        """The recurrence over time-major ``x`` (or packed data) from ``hx`` in packed order."""
        return run_stack(
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

    def check_input(self, input: Tensor, batch_sizes: Tensor | None) -> None:
        """nn.RNN's: the dtype (but under autocast), rank and feature size of ``input``."""
        dtype = getattr(self, self._flat_weights_names[0]).dtype
        _checks.check_input(input, dtype, self.input_size, batch_sizes is not None)

    def get_expected_hidden_size(
        self, input: Tensor, batch_sizes: Tensor | None
    ) -> tuple[int, int, int]:
        """``(D * num_layers, N, H_out)`` for ``input`` (batch-major when ``batch_first``)."""
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        return (self.num_layers * self.num_directions, mini_batch, self.hidden_size)

    def check_hidden_size(
        self,
        hx: Tensor,
        expected_hidden_size: tuple[int, int, int],
        msg: str = "Expected hidden size {}, got {}",
    ) -> None:
        """nn.RNN's: ``hx`` must have ``expected_hidden_size`` (RuntimeError with ``msg``)."""
        _checks.check_hidden_size(hx, expected_hidden_size, msg)

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes: Tensor | None) -> None:
        """nn.RNN's: :meth:`check_input`, then :meth:`check_hidden_size` against
        :meth:`get_expected_hidden_size`."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Tensor, permutation: Tensor | None) -> Tensor:
        """nn.RNN's: ``hx`` with its batch dimension (1) reordered by ``permutation``."""
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

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
