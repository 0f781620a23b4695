"""``rnn_impl.RNNCell``, ``LSTMCell`` and ``GRUCell``: from-scratch drop-ins for torch's cells."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import Parameter, init

from rnn_impl import _checks, ops
from rnn_impl._steps import STEPS, LayerWeights


class RNNCellBase(nn.Module):
    """What the three cells share, as ``torch.nn.RNNCellBase``: ``W_ih (gates * H, I)``,
    ``W_hh (gates * H, H)`` and, with ``bias``, ``b_ih`` and ``b_hh (gates * H)``, registered
    in that order and initialised from U(-1/sqrt(H), 1/sqrt(H))."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    input_size: int
    hidden_size: int
    bias: bool

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        factory = {"device": device, "dtype": dtype}
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(torch.empty((num_chunks * hidden_size, input_size), **factory))
        self.weight_hh = Parameter(torch.empty((num_chunks * hidden_size, hidden_size), **factory))
        if bias:
            self.bias_ih = Parameter(torch.empty(num_chunks * hidden_size, **factory))
            self.bias_hh = Parameter(torch.empty(num_chunks * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(H), 1/sqrt(H)), in registration order."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def weights(self) -> LayerWeights:
        """Its :class:`~rnn_impl.LayerWeights`, read now (``w_hr`` is None)."""
        return LayerWeights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def step(self, input: Tensor, state: Any, weights: LayerWeights) -> Any:
        """The step itself, after forward's checks: the state after it from the batched
        ``input`` ``(N, H_in)``, the state before it (``h`` ``(N, H)``, an LSTMCell's
        ``(h, c)``) and the cell's :class:`~rnn_impl.LayerWeights`, in ATen's operation order.

        The extension point for a custom cell: a subclass that overrides it keeps the cell's
        checks, batching and errors, and changes what a step computes.
        """
        if ops.traced():
            return ops.compiled_step(input, state, weights, self._mode())
        return STEPS[self._mode()](input, state, weights, False)

    def _mode(self) -> str:
        """The recurrent mode whose step this cell takes (``nn.RNNBase.mode``'s names)."""
        raise NotImplementedError

    def _batched(self, input: Tensor, hx: Tensor | None) -> tuple[Tensor, Tensor]:
        """``(input, hx)`` as ``(N, H_in)``, ``(N, H)``: unbatched ones gain a batch of 1,
        an omitted ``hx`` is zeros."""
        if input.dim() == 1:
            input = input.unsqueeze(0)
            hx = None if hx is None else hx.unsqueeze(0)
        if hx is None:
            hx = torch.zeros(
                input.size(0), self.hidden_size, dtype=input.dtype, device=input.device
            )
        return input, hx

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)


class RNNCell(RNNCellBase):
    r"""One Elman step:

    .. math::
        h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})

    (``relu`` in place of :math:`\tanh` when ``nonlinearity='relu'``). Like
    ``torch.nn.RNNCell``, including its lack of constructor validation: a bad
    ``nonlinearity`` is reported at forward. Results are bit-identical on CPU.

    Args:
        input_size: features in the input ``x``.
        hidden_size: features in the hidden state ``h``.
        bias: if ``False``, no ``b_ih`` / ``b_hh`` (the third positional argument, as in
            nn.RNNCell). Default: ``True``
        nonlinearity: ``'tanh'`` or ``'relu'``. Default: ``'tanh'``
        device: where the parameters are created. Default: the default device
        dtype: the parameters' dtype. Default: the default dtype

    Inputs: input, hidden
        - **input**: ``(N, H_in)`` or unbatched ``(H_in)``.
        - **hidden**: ``(N, H_out)`` or ``(H_out)``; zeros if omitted.

    Outputs: h'
        - **h'**: ``(N, H_out)`` or ``(H_out)``, the next hidden state.

    where:

    .. math::
        \begin{aligned}
            N ={} & \text{batch size} \\
            H_{in} ={} & \text{input\_size} \\
            H_{out} ={} & \text{hidden\_size}
        \end{aligned}

    Attributes:
        weight_ih: ``(hidden_size, input_size)``.
        weight_hh: ``(hidden_size, hidden_size)``.
        bias_ih, bias_hh: ``(hidden_size)``, or None when ``bias=False``.

    All weights and biases are initialised from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`,
    :math:`k = 1 / \text{hidden\_size}`.

    Examples::

        >>> cell = RNNCell(10, 20)
        >>> x = torch.randn(6, 3, 10)
        >>> hx = torch.randn(3, 20)
        >>> for i in range(6):
        ...     hx = cell(x[i], hx)
        >>> hx.shape
        torch.Size([3, 20])
    """

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]
    rnn_verify_kind = "rnn_cell"
    """What :mod:`rnn_impl.testing` verifies it as: an nn.RNNCell look-alike."""

    nonlinearity: str

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step from ``hx`` (zeros if omitted): ``h'``, with nn.RNNCell's checks and
        errors in its order."""
        _checks.check_cell_input_rank(input, hx)
        batched = input.dim() == 2
        input, hx = self._batched(input, hx)
        self._mode()
        _checks.check_cell_forward(input, hx, self.weight_ih.size(1), self.weight_hh.size(1))
        output = self.step(input, hx, self.weights())
        return output if batched else output.squeeze(0)

    def _mode(self) -> str:
        if self.nonlinearity == "tanh":
            return "RNN_TANH"
        if self.nonlinearity == "relu":
            return "RNN_RELU"
        raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")


class LSTMCell(RNNCellBase):
    r"""One LSTM step, in ``torch.nn.LSTMCell``'s gate order (input, forget, cell, output):

    .. math::
        \begin{array}{ll}
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \\
        f = \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g = \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
        o = \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' = f \odot c + i \odot g \\
        h' = o \odot \tanh(c')
        \end{array}

    Constructor, parameters, errors and results are ``torch.nn.LSTMCell``'s; results are
    bit-identical on CPU (ATen's cell, operation for operation).

    Args:
        input_size: features in the input ``x``.
        hidden_size: features in the states ``h`` and ``c``.
        bias: if ``False``, no ``b_ih`` / ``b_hh``. Default: ``True``
        device: where the parameters are created. Default: the default device
        dtype: the parameters' dtype. Default: the default dtype

    Inputs: input, (h_0, c_0)
        - **input**: ``(N, H_in)`` or unbatched ``(H_in)``.
        - **h_0**, **c_0**: ``(N, H)`` or ``(H)`` each; zeros if the pair is omitted.

    Outputs: (h_1, c_1)
        - **h_1**, **c_1**: ``(N, H)`` or ``(H)``, the next hidden and cell states.

    where:

    .. math::
        \begin{aligned}
            N ={} & \text{batch size} \\
            H_{in} ={} & \text{input\_size} \\
            H ={} & \text{hidden\_size}
        \end{aligned}

    Attributes:
        weight_ih: ``(4 * hidden_size, input_size)``, the rows of ``W_ii | W_if | W_ig | W_io``.
        weight_hh: ``(4 * hidden_size, hidden_size)``, ``W_hi | W_hf | W_hg | W_ho``.
        bias_ih, bias_hh: ``(4 * hidden_size)``, or None when ``bias=False``.

    Examples::

        >>> cell = LSTMCell(10, 20)
        >>> x = torch.randn(6, 3, 10)
        >>> hx, cx = torch.randn(3, 20), torch.randn(3, 20)
        >>> for i in range(6):
        ...     hx, cx = cell(x[i], (hx, cx))
        >>> hx.shape, cx.shape
        (torch.Size([3, 20]), torch.Size([3, 20]))
    """

    rnn_verify_kind = "lstm_cell"
    """What :mod:`rnn_impl.testing` would verify it as: an nn.LSTMCell look-alike."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """One step from ``hx = (h, c)`` (zeros if omitted): ``(h', c')``, with
        nn.LSTMCell's checks and errors in its order."""
        _checks.check_cell_input_rank(input, hx, "LSTMCell")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = torch.zeros(
                input.size(0), self.hidden_size, dtype=input.dtype, device=input.device
            )
            hx = (zeros, zeros)
        elif not batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        if len(hx) != 2:
            raise RuntimeError("lstm_cell expects two hidden states")
        _checks.check_cell_input_size(input, self.weight_ih.size(1))
        for label, state in enumerate(hx):
            _checks.check_cell_state(input, state, self.weight_hh.size(1), label)
        h, c = self.step(input, (hx[0], hx[1]), self.weights())
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))

    def _mode(self) -> str:
        return "LSTM"


class GRUCell(RNNCellBase):
    r"""One GRU step, in ``torch.nn.GRUCell``'s gate order (reset, update, new), the reset
    gate applied to the hidden-hidden product:

    .. math::
        \begin{array}{ll}
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h' = (1 - z) \odot n + z \odot h
        \end{array}

    Constructor, parameters, errors and results are ``torch.nn.GRUCell``'s; results are
    bit-identical on CPU (ATen's cell, operation for operation: ``h' = (h - n) * z + n``).

    Args:
        input_size: features in the input ``x``.
        hidden_size: features in the hidden state ``h``.
        bias: if ``False``, no ``b_ih`` / ``b_hh``. Default: ``True``
        device: where the parameters are created. Default: the default device
        dtype: the parameters' dtype. Default: the default dtype

    Inputs: input, hidden
        - **input**: ``(N, H_in)`` or unbatched ``(H_in)``.
        - **hidden**: ``(N, H)`` or ``(H)``; zeros if omitted.

    Outputs: h'
        - **h'**: ``(N, H)`` or ``(H)``, the next hidden state.

    where:

    .. math::
        \begin{aligned}
            N ={} & \text{batch size} \\
            H_{in} ={} & \text{input\_size} \\
            H ={} & \text{hidden\_size}
        \end{aligned}

    Attributes:
        weight_ih: ``(3 * hidden_size, input_size)``, the rows of ``W_ir | W_iz | W_in``.
        weight_hh: ``(3 * hidden_size, hidden_size)``, ``W_hr | W_hz | W_hn``.
        bias_ih, bias_hh: ``(3 * hidden_size)``, or None when ``bias=False``.

    Examples::

        >>> cell = GRUCell(10, 20)
        >>> x = torch.randn(6, 3, 10)
        >>> hx = torch.randn(3, 20)
        >>> for i in range(6):
        ...     hx = cell(x[i], hx)
        >>> hx.shape
        torch.Size([3, 20])
    """

    rnn_verify_kind = "gru_cell"
    """What :mod:`rnn_impl.testing` would verify it as: an nn.GRUCell look-alike."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step from ``hx`` (zeros if omitted): ``h'``, with nn.GRUCell's checks and
        errors in its order."""
        _checks.check_cell_input_rank(input, hx, "GRUCell")
        batched = input.dim() == 2
        input, hx = self._batched(input, hx)
        _checks.check_cell_forward(input, hx, self.weight_ih.size(1), self.weight_hh.size(1))
        output = self.step(input, hx, self.weights())
        return output if batched else output.squeeze(0)

    def _mode(self) -> str:
        return "GRU"
