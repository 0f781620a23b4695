"""Before judging: which input layouts, dtypes and state forms an implementation takes at all.

A layout or dtype is unsupported only when every probe of it raises (with and without an
initial state), an initial state only when every probe with one raises and a probe without
one returns: a wrong shape, a wrong dtype or a state made on the wrong device are failures
the properties report, not unsupported inputs. Probes never look at the values. A
:class:`Probe` makes each call once, however many questions it answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnn_impl.testing.cases import (
    LAYOUTS,
    InputCase,
    make_cell_inputs,
    make_inputs,
)
from rnn_impl.testing.devices import dtype_name, dtypes_for
from rnn_impl.testing.oracle import Implementation, build_pair

INITIAL_STATE = "initial state"
"""The state form a probe may find unsupported: a forward that takes no h0 (``forward(x)``)."""


class Probe:
    """The small calls probing makes of one implementation under test (3 steps, batch 3 where
    batched, built with its plain configuration and ``fixed``), each made once."""

    def __init__(self, implementation: Implementation, fixed: Mapping[str, Any]) -> None:
        self.implementation = implementation
        self.config = implementation.plain_config(fixed)
        self._made: dict[tuple[str, bool, torch.dtype], tuple[Any, str]] = {}

    def result(self, layout: str, h0: bool, dtype: torch.dtype = torch.float32) -> tuple[Any, str]:
        """``(what the call returned, "")``, or ``(None, "Type: message")`` if it raised."""
        key = (layout, h0, dtype)
        if key not in self._made:
            try:
                self._made[key] = (self._call(layout, h0, dtype), "")
            except Exception as exc:
                self._made[key] = (None, f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        return self._made[key]

    def error(self, layout: str, h0: bool, dtype: torch.dtype = torch.float32) -> str:
        """The call's error as ``Type: message`` ("" if it returned)."""
        return self.result(layout, h0, dtype)[1]

    def _call(self, layout: str, h0: bool, dtype: torch.dtype) -> Any:
        implementation, config = self.implementation, self.config
        batch = 1 if layout == "unbatched" else 3
        lengths = (2, 3, 1) if layout == "packed_unsorted" else (3, 2, 1)
        case = InputCase(
            layout,
            3,
            batch,
            lengths=lengths if layout.startswith("packed") else None,
            with_h0=h0,
            seed=7,
        )
        _, impl = build_pair(implementation, config, case, dtype, "cpu")
        if implementation.is_cell:
            inputs = make_cell_inputs(config, case, dtype, "cpu")
        else:
            inputs = make_inputs(config, case, dtype, "cpu")
        with torch.no_grad():
            return impl(*inputs.args())


def unsupported_layouts(probe: Probe, layouts: tuple[str, ...] = LAYOUTS) -> dict[str, str]:
    """The layouts of ``layouts`` that every call of ``probe`` raised on, each with the first
    error (empty for a cell: its layouts are batched or not, and its properties draw both)."""
    if probe.implementation.is_cell:
        return {}
    found = {}
    for layout in layouts:
        errors = [probe.error(layout, h0) for h0 in (False, True)]
        if all(errors):
            found[layout] = errors[0]
    return found


def unsupported_state(probe: Probe, layouts: tuple[str, ...] = LAYOUTS) -> dict[str, str]:
    """``{INITIAL_STATE: error}`` when every call of ``probe`` with an initial state raised on
    ``layouts`` (the ones it takes) and one without returned; else empty (a cell always takes
    one)."""
    if probe.implementation.is_cell:
        return {}
    with_state = [probe.error(layout, True) for layout in layouts]
    without = [probe.error(layout, False) for layout in layouts]
    if all(with_state) and not all(without):
        return {INITIAL_STATE: with_state[0]}
    return {}


def unsupported_dtypes(probe: Probe, layouts: tuple[str, ...] = LAYOUTS) -> dict[str, str]:
    """The CPU dtypes (by name) on which every call of ``probe`` raised, on the first of
    ``layouts`` (one it takes), each with the first error."""
    layout = "batched" if probe.implementation.is_cell else layouts[0]
    found = {}
    for dtype in dtypes_for("cpu"):
        errors = [probe.error(layout, h0, dtype) for h0 in (False, True)]
        if all(errors):
            found[dtype_name(dtype)] = errors[0]
    return found


def returns_one_tensor(probe: Probe) -> bool:
    """Whether the implementation, taken for a recurrent module, returns one tensor for a
    batched sequence, as a cell returns its new state, where a recurrent module returns
    ``(output, h_n)``."""
    if probe.implementation.is_cell:
        return False
    return isinstance(probe.result("batched", False)[0], torch.Tensor)
