"""``rnn_impl.RNN``: a from-scratch drop-in for ``torch.nn.RNN``."""

from __future__ import annotations

from typing import Any

import torch

from rnn_impl import _checks
from rnn_impl._base import RNNBase


class RNN(RNNBase):
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

    nonlinearity: str
    rnn_verify_kind = "rnn"
    """What :mod:`rnn_impl.testing` would verify it as: an nn.RNN look-alike."""

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
        self.nonlinearity = nonlinearity
        mode = _checks.mode_for(nonlinearity)
        super().__init__(
            mode,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )
