"""What the drop-ins' tests share: the dtypes, rnn_impl's drop-in of each kind as an
implementation under test, modules built under the same seed, results flattened into tensors,
bit-for-bit comparison, and ATen's native route for nn.LSTM (``native``). Helper modules for single tests live beside it: ``isa`` (the
exact-parity tests under each BLAS / ISA mode), ``misaligned`` (an RNN exact only where BLAS
ignores alignment), ``narrow`` (a bug in a corner the ``ci`` search misses)."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn.utils.rnn import PackedSequence

import rnn_impl
from rnn_impl.testing.devices import FLOAT_DTYPES
from rnn_impl.testing.kinds import KINDS
from rnn_impl.testing.oracle import Implementation, native_aten

DTYPES = list(FLOAT_DTYPES)
"""float32, float64, float16, bfloat16."""

DROP_INS = {
    name: Implementation(kind.drop_in, getattr(rnn_impl, kind.torch_name), kind=kind)
    for name, kind in KINDS.items()
}
"""rnn_impl's drop-in of each kind, as an implementation under test."""

RNN, CELL = DROP_INS["rnn"], DROP_INS["rnn_cell"]
native = native_aten
"""ATen's native recurrence for nn.LSTM (oneDNN off), for exact comparisons with it."""


def both(reference: Any, impl: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """torch's module and the drop-in, each built with ``args`` under ``torch.manual_seed(0)``
    (so their parameters are drawn alike)."""
    torch.manual_seed(0)
    built = reference(*args, **kwargs)
    torch.manual_seed(0)
    return built, impl(*args, **kwargs)


def tensors(*values: Any) -> list[torch.Tensor]:
    """Every tensor of a forward result (or of several), flattened: a PackedSequence gives its
    data and index tensors, a state pair its two tensors, tuples and lists their items."""
    found: list[torch.Tensor] = []
    for value in values:
        if isinstance(value, PackedSequence):
            found += [t for t in value if isinstance(t, torch.Tensor)]
        elif isinstance(value, (tuple, list)):
            found += tensors(*value)
        elif value is not None:
            found.append(value)
    return found


def assert_identical(expected: list[torch.Tensor], actual: list[torch.Tensor]) -> None:
    """Bit for bit, with the same shapes, dtypes and strides, one pair at a time."""
    assert len(actual) == len(expected), (len(actual), len(expected))
    for index, (e, a) in enumerate(zip(expected, actual)):
        assert (a.shape, a.dtype, a.stride()) == (e.shape, e.dtype, e.stride()), index
        assert torch.equal(a, e), (
            f"tensor {index}: max abs difference {(a.double() - e.double()).abs().max()}"
        )
