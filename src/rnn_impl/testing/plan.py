"""What runs where, and why not: the one run planner of ``rnn-verify`` and the pytest plugin.

A :class:`Run` is one property on one device in one dtype. :func:`plan` lists the runs of the
properties asked for (a property that does not apply to a device or dtype has no run there)
and, for each, why it does not run on this machine or with the user's narrowing, if it does
not: no such device here, a dtype the device lacks, a layout or fixed constructor argument
the property cannot honour. The front ends report these reasons as skips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from rnn_impl.testing import devices
from rnn_impl.testing.oracle import KINDS, Subject
from rnn_impl.testing.properties import Property

CHECKED_AS = {
    "rnn": "rnn",
    "gru": "rnn",
    "lstm": "rnn",
    "cell": "cell",
    "gru_cell": "cell",
    "lstm_cell": "cell",
}
"""Which properties verify each kind of subject (:data:`~rnn_impl.testing.oracle.KINDS`): the
``"rnn"`` ones verify nn.GRU and nn.LSTM look-alikes too (against nn.GRU, nn.LSTM), the
``"cell"`` ones every cell (against its torch cell)."""


@dataclass(frozen=True)
class Run:
    """One property on one device in one dtype; ``skip`` says why it does not run (None: it
    does)."""

    prop: Property
    device: str
    dtype: torch.dtype
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.prop.name}-{self.device}-{devices.dtype_name(self.dtype)}"


def plan(
    props: Iterable[Property],
    on: Iterable[str] | None = None,
    dtypes: Iterable[str] | None = None,
    layouts: tuple[str, ...] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> list[Run]:
    """The runs of ``props`` on the devices ``on`` (default: every device the suite knows),
    in the dtypes named ``dtypes`` (default: all), property-major.

    Raises:
        ValueError: an unknown device or dtype name (the message lists the known ones).
    """
    chosen = tuple(on or devices.ALL_DEVICES)
    unknown = [d for d in chosen if d not in devices.ALL_DEVICES]
    if unknown:
        known = ", ".join(devices.ALL_DEVICES)
        raise ValueError(f"unknown device {unknown[0]!r} (choose from {known})")
    names = {devices.dtype_name(t): t for t in devices.FLOAT_DTYPES}
    wanted = tuple(dtypes or names)
    unknown = [t for t in wanted if t not in names]
    if unknown:
        raise ValueError(f"unknown dtype {unknown[0]!r} (choose from {', '.join(names)})")
    runs = []
    for prop in props:
        for device in chosen:
            for dtype in (names[t] for t in names if t in wanted):
                if prop.skip_reason(device, dtype) is None:
                    runs.append(
                        Run(prop, device, dtype, _why_not(prop, device, dtype, layouts, fixed))
                    )
    return runs


def _why_not(
    prop: Property,
    device: str,
    dtype: torch.dtype,
    layouts: tuple[str, ...] | None,
    fixed: Mapping[str, Any] | None,
) -> str | None:
    if device not in devices.available_devices():
        return f"no {device} device on this machine"
    if dtype not in devices.dtypes_for(device):
        return f"{devices.dtype_name(dtype)} is not supported on {device}"
    return prop.skip_reason(device, dtype, layouts, fixed)


VERIFIES = {"rnn": "a recurrent module", "cell": "a cell"}
"""What the properties of each kind verify, as messages say it."""


def kind_mismatch(prop: Property, subject: Subject) -> str | None:
    """Why ``subject`` cannot be checked by ``prop`` (an RNN against a cell property, or the
    other way round), or None."""
    if prop.kind == CHECKED_AS[subject.kind]:
        return None
    return f"{subject.name} imitates nn.{KINDS[subject.kind]}; {prop.name} verifies {VERIFIES[prop.kind]}"
