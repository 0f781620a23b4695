"""Argument and input checks with ``torch.nn.RNN``'s exact exception types and messages.

Every message here is nn.RNN's (torch 2.13): the drop-in contract is that a user's mistake
raises the same exception, with the same words, in the same order. Keeping them in one
module makes the wording easy to audit and to gate by torch version.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

TORCH_VERSION = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])

VALIDATES_FLAGS_AND_INPUT_SIZE = TORCH_VERSION >= (2, 11)
"""torch 2.11 added nn.RNN's bias / batch_first / input_size checks (pytorch#166302) and the
"RNN input dtype ... Convert input" message; before it the dtype message was
"input must have the type ..." and those arguments were not validated. This module is the only
place that mirrors version-dependent behaviour (the tests compare with nn.RNN at run time)."""

CELL_CHECKS_HIDDEN_RANK = TORCH_VERSION >= (2, 15)
"""torch 2.15's rnn_tanh_cell / rnn_relu_cell reject a hidden state that is not 2-D (after
RNNCell's unsqueeze) right after the input-size check; earlier releases went on to the batch
and hidden-size checks."""


def reject_extra_kwargs(kwargs: Mapping[str, Any]) -> None:
    """Refuse keywords nn.RNN refuses, in nn.RNN's words (``proj_size`` first)."""
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    for name in kwargs:
        raise TypeError(f"RNNBase.__init__() got an unexpected keyword argument '{name}'")


def mode_for(nonlinearity: Any) -> str:
    """``'tanh'`` -> ``'RNN_TANH'``, ``'relu'`` -> ``'RNN_RELU'``; anything else is a ValueError."""
    if nonlinearity == "tanh":
        return "RNN_TANH"
    if nonlinearity == "relu":
        return "RNN_RELU"
    raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")


def check_rnn_args(
    input_size: Any,
    hidden_size: Any,
    num_layers: Any,
    bias: Any,
    batch_first: Any,
    dropout: Any,
    proj_size: Any = 0,
    *,
    stacklevel: int,
) -> None:
    """nn.RNNBase's constructor validation, in its order (dropout first, proj_size last)."""
    if (
        not isinstance(dropout, numbers.Number)
        or isinstance(dropout, bool)
        or not 0 <= dropout <= 1  # type: ignore[operator]
    ):
        raise ValueError(
            "dropout should be a number in range [0, 1] representing the probability of an "
            "element being zeroed"
        )
    if dropout > 0 and num_layers == 1:  # type: ignore[operator]
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
            f"expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}",
            stacklevel=stacklevel + 1,
        )
    if VALIDATES_FLAGS_AND_INPUT_SIZE:
        _require_type("bias", bias, bool)
        _require_type("batch_first", batch_first, bool)
        _require_type("input_size", input_size, int)
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
    _require_type("hidden_size", hidden_size, int)
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")


def _require_type(name: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} should be of type {kind.__name__}, got: {type(value).__name__}")


def check_input_rank(input: Tensor, name: str = "RNN") -> None:
    """A padded input is 2-D (unbatched) or 3-D (batched); nn.RNN's message says "tensor",
    nn.GRU's and nn.LSTM's do not."""
    if input.dim() not in (2, 3):
        noun = " tensor" if name == "RNN" else ""
        raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{noun} instead")


def check_hx_rank(hx: Tensor | None, batched: bool) -> None:
    """h0 has the input's batchedness: 3-D for batched input, 2-D for unbatched."""
    if hx is None:
        return
    if batched and hx.dim() != 3:
        raise RuntimeError(
            f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor"
        )
    if not batched and hx.dim() != 2:
        raise RuntimeError(
            f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor"
        )


def check_lstm_state_rank(hx: Any, batched: bool) -> None:
    """nn.LSTM's ``(h0, c0)`` have the input's batchedness (read as ``hx[0]``, ``hx[1]``)."""
    if hx is None:
        return
    ranks, expected = (hx[0].dim(), hx[1].dim()), 3 if batched else 2
    if ranks != (expected, expected):
        kind = "batched 3-D" if batched else "unbatched 2-D"
        raise RuntimeError(
            f"For {kind} input, hx and cx should also be {expected}-D but got "
            f"({ranks[0]}-D, {ranks[1]}-D) tensors"
        )


def check_lstm_states(
    hx: Any, num_params: int, bias: bool, num_layers: int, bidirectional: bool
) -> None:
    """ATen's lstm, in its order: two states; whether the layers project is read off their
    sizes (``hx[0].size(2) != hx[1].size(2)``); the parameters come in whole layers of that
    kind; a bidirectional stack has an even number of states, and one (pair) per layer; and
    as many layers of parameters, so read. nn.LSTM checks padded input's states itself
    first; packed input reaches these."""
    if len(hx) != 2:
        raise RuntimeError("lstm expects two hidden states")
    projections = hx[0].size(2) != hx[1].size(2)
    per_layer = (4 if bias else 2) + projections
    if num_params % per_layer:
        raise RuntimeError("got an incorrect number of RNN parameters")
    directions = 2 if bidirectional else 1
    for count, what in ((hx[0].size(0), "hidden states"), (num_params // per_layer, "weights")):
        if count % directions:
            raise RuntimeError("Odd number of params or hiddens given to a bidirectional RNN")
        if count // directions != num_layers:
            raise RuntimeError(f"Expected more {what} in stacked_rnn")


def check_input(input: Tensor, weight_dtype: torch.dtype, input_size: int, packed: bool) -> None:
    """nn.RNN.check_input: dtype (skipped under autocast), then rank, then feature size."""
    if input.dtype != weight_dtype and not torch._C._is_any_autocast_enabled():
        if not VALIDATES_FLAGS_AND_INPUT_SIZE:
            raise ValueError(f"input must have the type {weight_dtype}, got type {input.dtype}")
        raise ValueError(
            f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
            f"Convert input: input.to({weight_dtype}), or convert model: model.to({input.dtype})"
        )
    expected_dim = 2 if packed else 3
    if input.dim() != expected_dim:
        raise RuntimeError(f"input must have {expected_dim} dimensions, got {input.dim()}")
    if input.size(-1) != input_size:
        raise RuntimeError(
            "input.size(-1) must be equal to input_size. "
            f"Expected {input_size}, got {input.size(-1)}"
        )


def check_hidden_size(
    hx: Tensor, expected: tuple[int, int, int], msg: str = "Expected hidden size {}, got {}"
) -> None:
    """The expected size prints as a tuple, the actual one as a list, as in nn.RNN."""
    if hx.size() != expected:
        raise RuntimeError(msg.format(expected, list(hx.size())))


def check_devices(input: Tensor, hx: Tensor | tuple[Tensor, ...], weights: list[Tensor]) -> None:
    """ATen's check_attributes for the padded path: hidden (h, then an LSTM's c) first, then
    each parameter."""
    hiddens = list(hx) if isinstance(hx, tuple) else [hx]
    for kind, tensors in (("hidden", hiddens), ("parameter", weights)):
        for tensor in tensors:
            if tensor.device != input.device:
                raise RuntimeError(
                    f"Input and {kind} tensors are not at the same device, found input tensor "
                    f"at {input.device} and {kind} tensor at {tensor.device}"
                )


def check_seq_len(seq_len: int) -> None:
    if seq_len == 0:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")


def check_cell_input_rank(input: Tensor, hx: Any, name: str = "RNNCell") -> None:
    """A cell takes 1-D (unbatched) or 2-D (batched) input and state; nn.LSTMCell checks
    each of its states (``hx[0]``, ``hx[1]``, ...) in turn."""
    if input.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
    if hx is None:
        return
    states = list(enumerate(hx)) if name == "LSTMCell" else [(None, hx)]
    for index, state in states:
        if state.dim() not in (1, 2):
            which = "hidden" if index is None else f"hx[{index}]"
            raise ValueError(f"{name}: Expected {which} to be 1D or 2D, got {state.dim()}D instead")


def check_cell_forward(input: Tensor, hx: Tensor, input_size: int, hidden_size: int) -> None:
    """ATen's rnn_tanh_cell / gru_cell checks, in their order: input size, then the state's
    (:func:`check_cell_state`)."""
    check_cell_input_size(input, input_size)
    check_cell_state(input, hx, hidden_size, 0)


def check_cell_input_size(input: Tensor, input_size: int) -> None:
    """ATen's check_rnn_cell_forward_input."""
    if input.size(1) != input_size:
        raise RuntimeError(
            f"input has inconsistent input_size: got {input.size(1)} expected {input_size}"
        )


def check_cell_state(input: Tensor, hx: Tensor, hidden_size: int, label: int) -> None:
    """ATen's check_rnn_cell_forward_hidden for state ``label`` (an LSTM's ``c`` is 1):
    rank (torch 2.15 on), batch size, hidden size."""
    if CELL_CHECKS_HIDDEN_RANK and hx.dim() != 2:
        raise RuntimeError(
            f"Expected 2D hidden{label} (batch x hidden_size), but got {hx.dim()}D tensor"
        )
    if input.size(0) != hx.size(0):
        raise RuntimeError(
            f"Input batch size {input.size(0)} doesn't match hidden{label} batch size {hx.size(0)}"
        )
    if hx.size(1) != hidden_size:
        raise RuntimeError(
            f"hidden{label} has inconsistent hidden_size: got {hx.size(1)}, expected {hidden_size}"
        )
