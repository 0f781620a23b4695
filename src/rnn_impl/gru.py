"""``rnn_impl.GRU``: a from-scratch drop-in for ``torch.nn.GRU``."""

from __future__ import annotations

from typing import Any

import torch

from rnn_impl import _checks
from rnn_impl._base import RNNBase


class GRU(RNNBase):
    r"""A multi-layer gated recurrent unit (GRU), written from primitive ops.

    For each element of the input sequence, each layer computes

    .. math::
        \begin{array}{ll}
            r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{(t-1)} + b_{hr}) \\
            z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{(t-1)} + b_{hz}) \\
            n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{(t-1)} + b_{hn})) \\
            h_t = (1 - z_t) \odot n_t + z_t \odot h_{(t-1)}
        \end{array}

    where :math:`r_t`, :math:`z_t`, :math:`n_t` are the reset, update and new gates (in that
    order along the ``3 * hidden_size`` rows of each weight) and :math:`x_t` is the input at
    time ``t`` (for layers after the first, the previous layer's output, dropped out in
    training mode when ``dropout > 0``). The reset gate multiplies the hidden-hidden product,
    bias included, as in torch (not the hidden state before the product, as in the original
    paper and Keras' ``reset_after=False``).

    Constructor, parameters (names, shapes, registration order, initialisation), ``repr``,
    check methods, errors and results are those of ``torch.nn.GRU``; outputs are
    bit-identical on CPU.

    Args:
        input_size: features in the input ``x``.
        hidden_size: features in the hidden state ``h``.
        num_layers: stacked recurrent layers. Default: 1
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
          ``PackedSequence`` like the input's; forward direction first on the last dimension.
        - **h_n**: ``(D * num_layers, H_out)`` or ``(D * num_layers, N, H_out)``, the final
          state of each layer and direction (layer-major, forward then reverse).

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
        weight_ih_l[k]: ``(3 * hidden_size, input_size)`` for ``k = 0``, else
            ``(3 * hidden_size, D * hidden_size)``: ``W_ir | W_iz | W_in`` of layer ``k``.
        weight_hh_l[k]: ``(3 * hidden_size, hidden_size)``: ``W_hr | W_hz | W_hn``.
        bias_ih_l[k], bias_hh_l[k]: ``(3 * hidden_size)`` (when ``bias``).
        ``*_reverse``: the same for the reverse direction (when ``bidirectional``).

    All weights and biases are initialised from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`,
    :math:`k = 1 / \text{hidden\_size}`, in registration order, as nn.GRU does.

    Examples::

        >>> gru = GRU(10, 20, 2)
        >>> input = torch.randn(5, 3, 10)
        >>> h0 = torch.randn(2, 3, 20)
        >>> output, hn = gru(input, h0)
        >>> output.shape, hn.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """

    rnn_verify_kind = "gru"
    """What :mod:`rnn_impl.testing` would verify it as: an nn.GRU look-alike."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> None:
        _checks.reject_extra_kwargs(kwargs)
        super().__init__(
            "GRU",
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
