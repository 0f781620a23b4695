"""Workflow properties (the opt-in ``workflows`` tier): the implementation compiled by
``torch.compile`` and exported by ``torch.export``, judged against nn.RNN as the eager
properties judge it, within what rounding in any order allows (a compiler may reorder sums;
never bit for bit).

A compile or an export costs seconds per example: these properties draw small
configurations, batched input (no packed sequences), and few examples
(:attr:`~rnn_impl.testing.properties._core.Property.examples`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import hypothesis.strategies as st
import torch
from torch import nn

from rnn_impl.testing.cases import make_inputs
from rnn_impl.testing.environment import BACKEND_ENV, compile_backend
from rnn_impl.testing.exceptions import RAISED, VALUES, PropertyFailure
from rnn_impl.testing.oracle import Implementation, build_pair
from rnn_impl.testing.properties._core import Measure, fail, register
from rnn_impl.testing.properties.differential import compare_gradients, compare_outputs
from rnn_impl.testing.strategies import Example, sizes

LONGER = 2
"""A second sequence length is the example's plus this: a module that specialises on the
first length it sees shows there, and Dynamo recompiles (at most once, for any length)."""

SMALL: dict[str, Any] = {
    "config": {"input_size": sizes(max_value=5), "hidden_size": sizes(max_value=5)},
    "draw": {"layout": "batched", "seq_len": st.integers(2, 6), "batch": st.integers(2, 3)},
    "levels": {
        "input_size": (3,),
        "hidden_size": (4,),
        "num_layers": (1, 2),
        "seq_len": (3,),
        "batch": (2,),
        "with_h0": (True,),
    },
    "dtypes": (torch.float32, torch.float64),
    "examples": 2,
}
"""What the workflows properties draw: small sizes, batches of 2 and more (Dynamo
specialises sizes 0 and 1), lengths of 2 and more, any stack (``num_layers`` is not theirs
to draw: a class that takes none is held at 1); covered: one and two layers, each
direction, each layout and bias, with h0 (four rows)."""


def unknown_backend() -> str | None:
    """What is wrong with :func:`compile_backend`'s name (None: torch.compile knows it)."""
    backend = compile_backend()
    every = torch._dynamo.list_backends(exclude_tags=())
    if backend in every:
        return None
    shown = sorted(b for b in every if "TESTING" not in b)
    return (
        f"${BACKEND_ENV}={backend!r} is no torch.compile backend (choose from {', '.join(shown)})"
    )


def cpp_compiler_found() -> bool:
    """Whether a C++ compiler, which inductor needs on the CPU, is on PATH (``$CXX``, g++,
    c++ or clang++)."""
    compilers = [os.environ.get("CXX"), "g++", "c++", "clang++"]
    return any(c and shutil.which(c) for c in compilers)


def compiler_missing() -> str | None:
    """Why ``torch.compile`` cannot run here with :func:`compile_backend` (None: it can)."""
    backend = compile_backend()
    if backend == "inductor" and not cpp_compiler_found():
        return (
            "inductor needs a C++ compiler on the CPU and none is on PATH (install g++, or "
            f"set ${BACKEND_ENV}=aot_eager)"
        )
    return None


@dataclass
class Watch:
    """What Dynamo did since :func:`compiling` began (its graph-break counter cleared then):
    frames compiled, graph breaks, and the first break's reason."""

    counter: Any

    @property
    def frames(self) -> int:
        return int(self.counter.frame_count)

    @property
    def breaks(self) -> int:
        return sum(torch._dynamo.utils.counters["graph_break"].values())

    @property
    def first_break(self) -> str:
        reasons = list(torch._dynamo.utils.counters["graph_break"])
        return reasons[0].strip().splitlines()[0] if reasons else ""


@contextlib.contextmanager
def compiling(module: nn.Module) -> Iterator[tuple[Any, Watch]]:
    """``(torch.compile(module), watch)`` from a fresh Dynamo (reset before and after).
    Inductor's caches are off: they key a graph without the vector ISA that
    ``ATEN_CPU_CAPABILITY`` selects (a torch defect: docs/drop-ins.md)."""
    from torch._dynamo.testing import CompileCounterWithBackend

    backend = compile_backend()
    torch._dynamo.reset()
    torch._dynamo.utils.counters["graph_break"].clear()
    counter = CompileCounterWithBackend(backend)
    patch = (
        torch._inductor.config.patch(force_disable_caches=True)
        if backend == "inductor"
        else contextlib.nullcontext()
    )
    try:
        with patch, quiet():
            yield torch.compile(module, backend=counter), Watch(counter)
    finally:
        torch._dynamo.reset()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """torch's warnings, logs and printed graphs muted (a failure's report says what went
    wrong)."""
    known = list(logging.root.manager.loggerDict)
    loggers = [logging.getLogger(name) for name in known if name.startswith("torch")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            for logger in loggers:
                logger.setLevel(logging.CRITICAL)
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def _user_frames(exc: BaseException) -> list[str]:
    """Where, outside torch, the traceback of ``exc`` last passed: the user's line that
    tracing could not get through."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/torch/" not in f.filename]
    return [f"at {f.filename}:{f.lineno}: {f.line}" for f in frames[-1:]]


@contextlib.contextmanager
def eager_beside(what: str, reference: str, eager: Callable[[], object]) -> Iterator[None]:
    """A failure on values inside gets one more line: whether ``eager()`` (the same checks
    on the implementation run eagerly) holds, so that the difference is the ``what``
    module's (a compiled or exported path of its own), or fails too (a bug of eager mode,
    which the eager properties show without ``what``)."""
    try:
        yield
    except PropertyFailure as failure:
        if failure.differs != VALUES:
            raise
        try:
            eager()
            line = (
                f"eager mode is within rounding of {reference} on the same inputs: only the "
                f"{what} module differs"
            )
        except PropertyFailure:
            line = f"eager mode differs from {reference} too: the eager properties show it"
        raise PropertyFailure(f"{failure}\n  {line}", failure.differs, failure.measure) from None


def longer(example: Example) -> Example:
    """The example with :data:`LONGER` more steps."""
    return replace(example, case=replace(example.case, seq_len=example.case.seq_len + LONGER))


@register(
    "compiled_close",
    "workflows",
    "tolerance",
    "workflows",
    unavailable=compiler_missing,
    setting_error=unknown_backend,
    **SMALL,
)
def compiled_close(implementation: Implementation, example: Example) -> Measure:
    """Under ``torch.compile`` (backend ``$RNN_VERIFY_COMPILE_BACKEND``, aot_eager by
    default; Dynamo reset first) output, h_n and every gradient match torch's within what
    rounding in any order allows, on the example and on a longer sequence; Dynamo must have
    compiled a frame (past its recompile limit, or at a graph break around everything, it
    runs the module eagerly and nothing was checked compiled). Counted per run: recompiles
    for the second length, graph breaks."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    second = longer(example)

    def eager() -> None:
        compare_outputs(example, reference, impl)
        compare_outputs(second, reference, impl)
        compare_gradients(example, implementation, reference, impl)

    ref = example.config.kind.reference
    with compiling(impl) as (compiled, watch), eager_beside("compiled", ref, eager):
        backend = f" (compiled with {compile_backend()})"
        measure = compare_outputs(example, reference, compiled, backend)
        first = watch.frames
        if first == 0:
            why = f" (a graph break: {watch.first_break})" if watch.first_break else ""
            raise fail(
                example,
                f"torch.compile ({compile_backend()}) compiled no frame of it: Dynamo ran it "
                f"eagerly{why}",
            )
        where = f" (compiled with {compile_backend()}, then run on {second.case.seq_len} steps)"
        measure = measure.merge(compare_outputs(second, reference, compiled, where))
        recompiles = watch.frames - first
        measure = measure.merge(
            compare_gradients(example, implementation, reference, impl, compiled, backend)
        )
        counts = (("graph breaks", watch.breaks), ("recompiles", recompiles))
    return replace(measure, counts=counts)


@register("exported", "workflows", "tolerance", "workflows", **SMALL)
def exported(implementation: Implementation, example: Example) -> Measure:
    """``torch.export.export`` with the example's shapes works, and the exported program's
    output and h_n match torch's within what rounding in any order allows. A dynamic
    sequence length (``Dim("seq", min=2)``) is tried and counted, not required (torch's own
    modules cannot): where it exports, the program must match torch's on a longer
    sequence too."""
    reference, impl = build_pair(
        implementation, example.config, example.case, example.dtype, example.device
    )
    args = make_inputs(example.config, example.case, example.dtype, example.device).args()
    try:
        with quiet():
            program = torch.export.export(impl, args)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        raise fail(
            example,
            f"torch.export.export failed with static shapes: {type(exc).__name__}: "
            f"{lines[0] if lines else ''}",
            *_user_frames(exc),
            differs=RAISED,
        ) from None
    ref = example.config.kind.reference
    with eager_beside("exported", ref, lambda: compare_outputs(example, reference, impl)):
        measure = compare_outputs(example, reference, program.module(), " (exported)")
    seq = torch.export.Dim("seq", min=2)
    static = torch.utils._pytree.tree_map(lambda _: None, args[1:])
    dims = ({1 if example.config.batch_first else 0: seq}, *static)
    try:
        with quiet():
            dynamic = torch.export.export(impl, args, dynamic_shapes=dims)
    except Exception:
        return replace(measure, counts=(("optional dynamic-length exports", 0),))
    second = longer(example)
    where = f" (exported with a dynamic length, run on {second.case.seq_len} steps)"
    with eager_beside("exported", ref, lambda: compare_outputs(second, reference, impl)):
        measure = measure.merge(compare_outputs(second, reference, dynamic.module(), where))
    return replace(measure, counts=(("optional dynamic-length exports", 1),))
