"""Devices and dtypes to verify on, discovered lazily (importing this initialises no GPU)."""

from __future__ import annotations

import functools

import torch

ALL_DEVICES = ("cpu", "meta", "cuda", "mps")
"""Every device the suite knows, whether or not this machine has it."""

COMPUTE_DEVICES = tuple(d for d in ALL_DEVICES if d != "meta")
"""The devices that compute values (meta only propagates shapes and dtypes)."""

FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


@functools.cache
def available_devices() -> tuple[str, ...]:
    """Those of :data:`ALL_DEVICES` this machine has: ``cpu`` and ``meta`` always, ``cuda``
    and ``mps`` when present (asked on first call)."""
    found = ["cpu", "meta"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return tuple(found)


def dtypes_for(device: str) -> tuple[torch.dtype, ...]:
    """Floating dtypes nn.RNN supports on ``device``."""
    if device == "mps":
        return (torch.float32, torch.float16)
    if device == "cuda" and not torch.cuda.is_bf16_supported():
        return (torch.float32, torch.float64, torch.float16)
    return FLOAT_DTYPES


def deterministic_cuda() -> None:
    """TF32 off and deterministic kernels, for CUDA parity runs."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def dtype_of(name: str) -> torch.dtype:
    """``"float32"`` -> ``torch.float32``, for the names of :data:`FLOAT_DTYPES`.

    Raises:
        ValueError: not one of them.
    """
    for dtype in FLOAT_DTYPES:
        if dtype_name(dtype) == name:
            return dtype
    raise ValueError(
        f"unknown dtype {name!r} (choose from {', '.join(map(dtype_name, FLOAT_DTYPES))})"
    )
