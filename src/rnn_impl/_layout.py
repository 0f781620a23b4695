"""Caller layouts <-> the recurrence's time-major layout.

The caller may pass a batched ``(T, B, I)`` / ``(B, T, I)`` tensor, an unbatched ``(T, I)``
tensor or a ``PackedSequence``; h0 and h_n are always ``(L*D, B, H)`` (``(L*D, H)`` when
unbatched) and never batch-first. :func:`from_caller` runs nn.RNN's rank checks in its order
and returns a :class:`Layout`; :meth:`Layout.to_caller` puts the results back. Reordering h0
and h_n for packed input is the module's (``RNN.permute_hidden``, as in nn.RNN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from rnn_impl import _checks


@dataclass(frozen=True)
class Layout:
    """A forward call's input, normalised.

    Attributes:
        data: batched ``(T, B, I)`` / ``(B, T, I)`` as given (unbatched input gains a batch
            dimension of 1), or packed ``data`` ``(sum(batch_sizes), I)``.
        hx: the caller's h0 as ``(L*D, B, H_out)`` (an LSTM's ``(h0, c0)``), in the caller's
            batch order; None if omitted.
        batch_sizes: the packed batch sizes (CPU int64), or None for padded input.
    """

    data: Tensor
    hx: Any
    batch_first: bool
    batched: bool = True
    batch_sizes: Tensor | None = None
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    @property
    def packed(self) -> bool:
        return self.batch_sizes is not None

    @property
    def batch_size(self) -> int:
        if self.batch_sizes is not None:
            return int(self.batch_sizes[0])
        return self.data.size(0) if self.batch_first else self.data.size(1)

    def time_major(self) -> Tensor:
        """Padded input as a ``(T, B, I)`` view (a transposed view, never a copy: exactness
        depends on it), or the packed data unchanged."""
        if not self.packed and self.batch_first:
            return self.data.transpose(0, 1)
        return self.data

    def to_caller(self, output: Tensor, h_n: Any) -> tuple[Tensor | PackedSequence, Any]:
        """Time-major ``output`` -> the caller's layout (``h_n`` stays in the recurrence's
        batch order: the caller's module permutes it back)."""
        if self.packed:
            packed = PackedSequence(
                output, self.batch_sizes, self.sorted_indices, self.unsorted_indices
            )
            return packed, h_n
        if self.batch_first:
            output = output.transpose(0, 1)
        if not self.batched:
            output = output.squeeze(0 if self.batch_first else 1)
            h_n = (
                (h_n[0].squeeze(1), h_n[1].squeeze(1)) if isinstance(h_n, tuple) else h_n.squeeze(1)
            )
        return output, h_n


def from_caller(
    input: Tensor | PackedSequence, hx: Any, batch_first: bool, name: str = "RNN"
) -> Layout:
    """Normalise a forward call's arguments, raising the rank errors of torch's ``name``
    module (``RNN``, ``GRU`` or ``LSTM``, whose ``hx`` is a pair) in its order."""
    if isinstance(input, PackedSequence):
        data, batch_sizes, sorted_indices, unsorted_indices = input
        return Layout(data, hx, batch_first, True, batch_sizes, sorted_indices, unsorted_indices)
    _checks.check_input_rank(input, name)
    batched = input.dim() == 3
    if name == "LSTM":
        _checks.check_lstm_state_rank(hx, batched)
    else:
        _checks.check_hx_rank(hx, batched)
    if not batched:
        input = input.unsqueeze(0 if batch_first else 1)
        if hx is not None:
            hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1)) if name == "LSTM" else hx.unsqueeze(1)
    return Layout(input, hx, batch_first, batched)
