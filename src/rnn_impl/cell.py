"""``rnn_impl.RNNCell``: a from-scratch drop-in for ``torch.nn.RNNCell``."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import Parameter, init

from rnn_impl import _checks
from rnn_impl._steps import ACTIVATIONS, cell_step


class RNNCell(nn.Module):
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
    rnn_verify_kind = "cell"
    """What :mod:`rnn_impl.testing` verifies it as: an nn.RNNCell look-alike."""

    input_size: int
    hidden_size: int
    bias: bool
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
        factory = {"device": device, "dtype": dtype}
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(torch.empty((hidden_size, input_size), **factory))
        self.weight_hh = Parameter(torch.empty((hidden_size, hidden_size), **factory))
        if bias:
            self.bias_ih = Parameter(torch.empty(hidden_size, **factory))
            self.bias_hh = Parameter(torch.empty(hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        self.nonlinearity = nonlinearity

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(H), 1/sqrt(H)), in registration order."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step from ``hx`` (zeros if omitted): ``h'``, with nn.RNNCell's checks and
        errors in its order."""
        _checks.check_cell_input_rank(input, hx)
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = torch.zeros(
                input.size(0), self.hidden_size, dtype=input.dtype, device=input.device
            )
        elif not batched:
            hx = hx.unsqueeze(0)
        if self.nonlinearity == "tanh":
            activation = ACTIVATIONS["RNN_TANH"]
        elif self.nonlinearity == "relu":
            activation = ACTIVATIONS["RNN_RELU"]
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        _checks.check_cell_forward(input, hx, self.weight_ih.size(1), self.weight_hh.size(1))
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        output = cell_step(input, hx, weights, activation)
        return output if batched else output.squeeze(0)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)
