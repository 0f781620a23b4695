"""``rnn_impl.LSTM``: a from-scratch drop-in for ``torch.nn.LSTM``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from rnn_impl import _checks, _layout
from rnn_impl._base import RNNBase

State = tuple[Tensor, Tensor]


class LSTM(RNNBase):
    r"""A multi-layer long short-term memory (LSTM) RNN, written from primitive ops.

    For each element of the input sequence, each layer computes

    .. math::
        \begin{array}{ll}
            i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
            f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
            g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
            o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
            c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
            h_t = o_t \odot \tanh(c_t)
        \end{array}

    with the gates in torch's order (input, forget, cell, output) along the
    ``4 * hidden_size`` rows of each weight; with ``proj_size > 0``,
    :math:`h_t = W_{hr}(o_t \odot \tanh(c_t))`, of size ``proj_size``.

    Constructor, parameters (names, shapes, registration order, initialisation), ``repr``,
    check methods, errors and results are those of ``torch.nn.LSTM``. Outputs and gradients
    are bit-identical on CPU to ATen's native LSTM, which is what nn.LSTM runs for float64,
    with ``proj_size``, for an empty batch and whenever oneDNN is off
    (``torch.backends.mkldnn.flags(enabled=False)``). Elsewhere on the CPU (float32, and
    bfloat16 / float16 where oneDNN supports them) nn.LSTM hands each layer to oneDNN's fused
    kernel, whose rounding no composition of ATen operations reproduces: there the two agree
    to a few units in the last place, not bit for bit (see the README).

    Args:
        input_size: features in the input ``x``.
        hidden_size: features in the cell state ``c`` (and ``h`` unless projected).
        num_layers: stacked recurrent layers. Default: 1
        bias: if ``False``, no ``b_ih`` / ``b_hh``. Default: ``True``
        batch_first: input and output are ``(N, L, *)``; the states never are. Default: ``False``
        dropout: dropout probability on each layer's output except the last, in training
            mode. Default: 0
        bidirectional: if truthy, a reverse direction per layer. Default: ``False``
        proj_size: if ``> 0``, ``h`` is projected to this size. Default: 0
        device: where the parameters are created. Default: the default device
        dtype: the parameters' dtype. Default: the default dtype

    Inputs: input, (h_0, c_0)
        - **input**: ``(L, H_in)`` unbatched, ``(L, N, H_in)``, ``(N, L, H_in)`` when
          ``batch_first``, or a ``PackedSequence``.
        - **h_0**: ``(D * num_layers, H_out)`` unbatched or ``(D * num_layers, N, H_out)``.
        - **c_0**: ``(D * num_layers, H_cell)`` unbatched or ``(D * num_layers, N, H_cell)``.
          Both in the caller's batch order; zeros if the pair is omitted.

    Outputs: output, (h_n, c_n)
        - **output**: ``(L, D * H_out)``, ``(L, N, D * H_out)``, ``(N, L, D * H_out)``, or a
          ``PackedSequence`` like the input's; forward direction first on the last dimension.
        - **h_n**: like ``h_0``, the final hidden state of each layer and direction.
        - **c_n**: like ``c_0``, the final cell state of each layer and direction.

    where:

    .. math::
        \begin{aligned}
            N ={} & \text{batch size} \\
            L ={} & \text{sequence length} \\
            D ={} & 2 \text{ if bidirectional else } 1 \\
            H_{in} ={} & \text{input\_size} \\
            H_{cell} ={} & \text{hidden\_size} \\
            H_{out} ={} & \text{proj\_size if } \text{proj\_size} > 0 \text{ otherwise hidden\_size}
        \end{aligned}

    Attributes:
        weight_ih_l[k]: ``(4 * hidden_size, input_size)`` for ``k = 0``, else
            ``(4 * hidden_size, D * H_out)``: ``W_ii | W_if | W_ig | W_io`` of layer ``k``.
        weight_hh_l[k]: ``(4 * hidden_size, H_out)``: ``W_hi | W_hf | W_hg | W_ho``.
        bias_ih_l[k], bias_hh_l[k]: ``(4 * hidden_size)`` (when ``bias``).
        weight_hr_l[k]: ``(proj_size, hidden_size)`` (when ``proj_size > 0``).
        ``*_reverse``: the same for the reverse direction (when ``bidirectional``).

    All weights and biases are initialised from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`,
    :math:`k = 1 / \text{hidden\_size}`, in registration order, as nn.LSTM does.

    Examples::

        >>> lstm = LSTM(10, 20, 2)
        >>> input = torch.randn(5, 3, 10)
        >>> h0, c0 = torch.randn(2, 3, 20), torch.randn(2, 3, 20)
        >>> output, (hn, cn) = lstm(input, (h0, c0))
        >>> output.shape, hn.shape, cn.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]), torch.Size([2, 3, 20]))
    """

    rnn_verify_kind = "lstm"
    """What :mod:`rnn_impl.testing` would verify it as: an nn.LSTM look-alike."""

    def __init__(
        self,
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
        **kwargs: Any,
    ) -> None:
        _checks.reject_extra_kwargs(kwargs)
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device=device,
            dtype=dtype,
        )

    def forward(  # type: ignore[override]
        self, input: Tensor | PackedSequence, hx: State | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        """Run the stack over ``input`` from ``hx = (h_0, c_0)`` (zeros if omitted):
        ``(output, (h_n, c_n))``.

        nn.LSTM's order: rank checks, :meth:`check_forward_args` (padded input only, as in
        nn.LSTM), :meth:`permute_hidden` of the states into the packed order, the recurrence,
        then :meth:`permute_hidden` of the final states back.
        """
        layout = _layout.from_caller(input, hx, self.batch_first, "LSTM")
        data = layout.data
        state = layout.hx
        if state is None:
            state = self._zero_state(layout.batch_size, data)
        if not layout.packed:
            self.check_forward_args(data, state, None)
        if layout.hx is not None:
            state = self.permute_hidden(state, layout.sorted_indices)
        output, h_n = self._run(data, state, layout)
        result, h_n = layout.to_caller(output, h_n)
        return result, self.permute_hidden(h_n, layout.unsorted_indices)

    def _run(self, data: Tensor, hx: Any, layout: _layout.Layout) -> tuple[Tensor, Any]:
        """ATen's checks of the states, which nn.LSTM does not check itself for packed input,
        then the recurrence."""
        _checks.check_lstm_states(
            hx, len(self._flat_weights_names), self.bias, self.num_layers, bool(self.bidirectional)
        )
        return super()._run(data, (hx[0], hx[1]), layout)

    def _zero_state(self, batch_size: int, like: Tensor) -> State:
        """``(h_0, c_0)`` when omitted: zeros ``(D * num_layers, N, H_out)`` and
        ``(D * num_layers, N, H_cell)``."""
        h = super()._zero_state(batch_size, like)
        shape = (self.num_layers * self.num_directions, batch_size, self.hidden_size)
        return h, torch.zeros(shape, dtype=like.dtype, device=like.device)

    def get_expected_cell_size(
        self, input: Tensor, batch_sizes: Tensor | None
    ) -> tuple[int, int, int]:
        """``(D * num_layers, N, H_cell)`` for ``input``."""
        return (
            self.num_layers * self.num_directions,
            self._mini_batch(input, batch_sizes),
            self.hidden_size,
        )

    def check_forward_args(  # type: ignore[override]
        self, input: Tensor, hidden: State, batch_sizes: Tensor | None
    ) -> None:
        """nn.LSTM's: :meth:`check_input`, then ``hidden[0]`` against
        :meth:`get_expected_hidden_size` and ``hidden[1]`` against
        :meth:`get_expected_cell_size`."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(
            hidden[0],
            self.get_expected_hidden_size(input, batch_sizes),
            "Expected hidden[0] size {}, got {}",
        )
        self.check_hidden_size(
            hidden[1],
            self.get_expected_cell_size(input, batch_sizes),
            "Expected hidden[1] size {}, got {}",
        )

    def permute_hidden(  # type: ignore[override]
        self, hx: State, permutation: Tensor | None
    ) -> State:
        """nn.LSTM's: both states with their batch dimension (1) reordered."""
        if permutation is None:
            return hx
        return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)
