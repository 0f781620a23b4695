"""Every property of the catalogue, on every device and dtype, against the implementation
under test (``--rnn-impl`` / ``$RNN_IMPL``, default rnn_impl:RNN; cell properties against
``--rnn-cell-impl`` / ``$RNN_CELL_IMPL``, default rnn_impl:RNNCell)."""

from __future__ import annotations

import pytest
import torch

from rnn_impl.testing import devices
from rnn_impl.testing.properties import CATALOGUE
from rnn_impl.testing.runner import verify

ALL_DEVICES = ("cpu", "meta", "cuda", "mps")


def _where():
    for device in ALL_DEVICES:
        for dtype in devices.FLOAT_DTYPES:
            yield pytest.param(device, dtype, id=f"{device}-{str(dtype).removeprefix('torch.')}")


def _cases():
    for prop in CATALOGUE:
        for where in _where():
            device, dtype = where.values
            if prop.skip_reason(device, dtype) is None:
                yield pytest.param(prop, device, dtype, id=f"{prop.name}-{where.id}")


@pytest.mark.parametrize("prop, device, dtype", list(_cases()))
def test_property(prop, device: str, dtype: torch.dtype, subject, cell_subject, fixed_config):
    chosen = cell_subject if prop.kind == "cell" else subject
    if chosen.kind != prop.kind:
        pytest.skip(f"{chosen.name} is an {chosen.kind}; {prop.name} verifies an {prop.kind}")
    if device not in devices.available_devices():
        pytest.skip(f"no {device} device on this machine")
    if dtype not in devices.dtypes_for(device):
        pytest.skip(f"{dtype} is not supported on {device}")
    narrowed = prop.skip_reason(device, dtype, fixed=fixed_config)
    if narrowed is not None:
        pytest.skip(f"{narrowed} (--rnn-fix)")
    verify(prop, chosen, device, dtype, fixed=fixed_config)
