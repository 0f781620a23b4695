"""Before judging: which input layouts, dtypes and state forms an implementation takes at all.

A layout or dtype is unsupported only when every probe of it raises (with and without an
initial state), an initial state only when every probe with one raises and a probe without
one returns: a wrong shape, a wrong dtype or a state made on the wrong device are failures
the properties report, not unsupported inputs. Probes never look at the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnn_impl.testing.cases import (
    LAYOUTS,
    InputCase,
    ModuleConfig,
    make_cell_inputs,
    make_inputs,
)
from rnn_impl.testing.devices import dtype_name, dtypes_for
from rnn_impl.testing.oracle import Implementation, build_pair


def unsupported_layouts(
    implementation: Implementation, fixed: Mapping[str, Any], layouts: tuple[str, ...] = LAYOUTS
) -> dict[str, str]:
    """The layouts of ``layouts`` that every probe of ``implementation`` raised on, each with
    the first error (empty for a cell: its layouts are batched or not, and its properties
    draw both)."""
    if implementation.is_cell:
        return {}
    config = implementation.plain_config(fixed)
    found = {}
    for layout in layouts:
        errors = [_probe(implementation, config, layout, h0) for h0 in (False, True)]
        if all(errors):
            found[layout] = errors[0]
    return found


INITIAL_STATE = "initial state"
"""The state form a probe may find unsupported: a forward that takes no h0 (``forward(x)``)."""


def unsupported_state(
    implementation: Implementation, fixed: Mapping[str, Any], layouts: tuple[str, ...] = LAYOUTS
) -> dict[str, str]:
    """``{INITIAL_STATE: error}`` when every probe of ``implementation`` with an initial state
    raised on ``layouts`` (the ones it takes) and one without returned; else empty (a cell
    always takes one)."""
    if implementation.is_cell:
        return {}
    config = implementation.plain_config(fixed)
    with_state = [_probe(implementation, config, layout, True) for layout in layouts]
    without = [_probe(implementation, config, layout, False) for layout in layouts]
    if all(with_state) and not all(without):
        return {INITIAL_STATE: with_state[0]}
    return {}


def unsupported_dtypes(
    implementation: Implementation, fixed: Mapping[str, Any], layouts: tuple[str, ...] = LAYOUTS
) -> dict[str, str]:
    """The CPU dtypes (by name) on which every probe of ``implementation`` raised, on the
    first of ``layouts`` (one it takes), each with the first error."""
    config = implementation.plain_config(fixed)
    layout = "batched" if implementation.is_cell else layouts[0]
    found = {}
    for dtype in dtypes_for("cpu"):
        errors = [_probe(implementation, config, layout, h0, dtype) for h0 in (False, True)]
        if all(errors):
            found[dtype_name(dtype)] = errors[0]
    return found


def _probe(
    implementation: Implementation,
    config: ModuleConfig,
    layout: str,
    h0: bool,
    dtype: torch.dtype = torch.float32,
) -> str:
    """The probe's error as ``Type: message`` ("" if the call returned)."""
    try:
        _call(implementation, config, layout, h0, dtype)
    except Exception as exc:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return ""


def returns_one_tensor(implementation: Implementation, fixed: Mapping[str, Any]) -> bool:
    """Whether ``implementation``, taken for a recurrent module, returns one tensor for a
    batched sequence, as a cell returns its new state, where a recurrent module returns
    ``(output, h_n)``."""
    if implementation.is_cell:
        return False
    config = implementation.plain_config(fixed)
    try:
        result = _call(implementation, config, "batched", False, torch.float32)
    except Exception:
        return False
    return isinstance(result, torch.Tensor)


def _call(
    implementation: Implementation,
    config: ModuleConfig,
    layout: str,
    h0: bool,
    dtype: torch.dtype,
) -> Any:
    """One small call (3 steps, batch 3 where batched) of ``implementation``: its result."""
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
