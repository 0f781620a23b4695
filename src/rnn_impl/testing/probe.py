"""Before judging: which input layouts an implementation takes at all.

A layout is unsupported only when every probe of it raises (with and without an initial
state): a wrong shape, a wrong dtype or a state made on the wrong device are failures the
properties report, not unsupported inputs. Probes never look at the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnn_impl.testing.cases import LAYOUTS, InputCase, ModuleConfig, make_inputs
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


def _probe(implementation: Implementation, config: ModuleConfig, layout: str, h0: bool) -> str:
    """The probe's error as ``Type: message`` ("" if the call returned)."""
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
    try:
        _, impl = build_pair(implementation, config, case, torch.float32, "cpu")
        inputs = make_inputs(config, case, torch.float32, "cpu")
        with torch.no_grad():
            impl(*inputs.args())
    except Exception as exc:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return ""
