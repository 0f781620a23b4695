"""Bit-exact on every CPU: what the fast path hands BLAS, and an exact-parity grid.

MKL's GEMM may round differently when an operand starts at an address that is not a
multiple of 64 bytes (seen on AMD EPYC with AVX-512; on the Intel Xeons tried it happens to
round the same). ATen's loop hands BLAS fresh, aligned tensors, so rnn_impl must too. The
alignment is observable on any CPU (``data_ptr()``), so it is pinned here directly; the grid
then checks the results themselves, and ``tox -e isa`` runs this module under every BLAS /
ISA mode that changes MKL's path on the machine at hand (``tests/support/isa.py``).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from rnn_impl import _bptt
from rnn_impl.testing.cases import (
    InputCase,
    ModuleConfig,
    make_cell_inputs,
    make_inputs,
    upstream_grads,
)
from rnn_impl.testing.covering import covering_array
from rnn_impl.testing.oracle import build_pair
from tests.support import CELL, RNN

GEMMS = {torch.ops.aten.mm, torch.ops.aten.addmm, torch.ops.aten.addmm_, torch.ops.aten.bmm}


class GemmOperands(TorchDispatchMode):
    """Records every tensor handed to a GEMM (``mm``, ``addmm``, ``addmm_``, ``bmm``, their
    ``out=`` forms included), TorchScript's calls too."""

    def __init__(self) -> None:
        super().__init__()
        self.operands: list[tuple[str, torch.Tensor]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.overloadpacket in GEMMS:
            for value in (*args, *kwargs.values()):
                if isinstance(value, torch.Tensor):
                    self.operands.append((str(func), value))
        return func(*args, **kwargs)


@pytest.fixture
def fast_path_runs(monkeypatch):
    """A list that gets one entry per layer-direction the fast path runs (``padded_layer``)."""
    ran = []
    layer = _bptt.padded_layer

    def counting(*args, **kwargs):
        ran.append(1)
        return layer(*args, **kwargs)

    monkeypatch.setattr(_bptt, "padded_layer", counting)
    return ran


def gemm_operands(module, x, h0, grad):
    """Every tensor handed to a GEMM by the forward (and backward when ``grad``) of
    ``module``."""
    recorder = GemmOperands()
    with recorder, torch.set_grad_enabled(grad):
        output, h_n = module(x, h0)
        if grad:
            (output.sum() + h_n.sum()).backward()
    return recorder.operands


def misaligned(operands, caller_memory):
    """Operands not on a 64-byte boundary that are not views of the caller's own tensors."""
    return [
        (op, tuple(t.shape), t.data_ptr() % 64)
        for op, t in operands
        if t.data_ptr() % 64 and t.untyped_storage().data_ptr() not in caller_memory
    ]


# (B, H) whose B*H*itemsize is not a multiple of 64 bytes, so steps of a contiguous
# (T, B, H) buffer start at offsets that are not
ODD = [(3, 5), (1, 7), (2, 3), (5, 9)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("grad", [False, True], ids=["no-grad", "with-grad"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("batch,hidden", ODD, ids=lambda v: str(v))
def test_every_gemm_operand_is_aligned(batch, hidden, bidirectional, grad, dtype, fast_path_runs):
    """Every operand the fast path hands BLAS, forward and backward, starts at a multiple of
    64 bytes, as ATen's fresh per-step tensors do; only the caller's own memory (``hx``'s
    per-layer views, the input, the parameters) starts wherever the caller put it, for
    nn.RNN too. nn.RNN is held to the same rule in the same run, which shows the rule is
    ATen's own on this machine."""
    config = ModuleConfig(4, hidden, num_layers=2, bidirectional=bidirectional)
    case = InputCase("batched", seq_len=6, batch=batch)
    reference, impl = build_pair(RNN, config, case, dtype)
    for module in (reference, impl):
        inputs = make_inputs(config, case, dtype, requires_grad=grad)
        caller = {
            inputs.padded.untyped_storage().data_ptr(),
            inputs.h0.untyped_storage().data_ptr(),
        }
        caller |= {p.untyped_storage().data_ptr() for p in module.parameters()}
        operands = gemm_operands(module, inputs.padded, inputs.h0, grad)
        assert operands, "no GEMM was recorded"
        assert misaligned(operands, caller) == [], type(module).__module__
    assert len(fast_path_runs) == config.num_layers * config.num_directions, "no fast path"


NON_CONTIGUOUS = "every-other-element"


def strided_copy(t):
    """A copy of ``t`` that is every other element of a buffer twice as long: not contiguous,
    and its rows start at other offsets than a contiguous tensor's."""
    buffer = torch.empty((*t.shape[:-1], 2 * t.shape[-1]), dtype=t.dtype)
    return buffer[..., ::2].copy_(t.detach()).requires_grad_(t.requires_grad)


HALF = (torch.float16, torch.bfloat16)
GRID = covering_array(
    {
        "hidden_size": range(1, 34),
        "input_size": range(1, 34),
        "seq_len": range(1, 21),
        "batch": range(1, 10),
        "num_layers": (1, 2, 3),
        "bidirectional": (False, True),
        "nonlinearity": ("tanh", "relu"),
        "bias": (True, False),
        "dtype": (torch.float32, torch.float64, *HALF),
        "grad": (False, True),
        "dropout": (0.0, 0.4),
        "h0": ("given", "omitted", NON_CONTIGUOUS),
        "layout": ("batched", "batch_first", "unbatched", "packed_sorted", "packed_unsorted"),
    }
)
"""The exact-parity grid: a pairwise covering array over these levels (about 1100 rows), so
every hidden size meets every input size, sequence length, batch size, dtype and layout at
least once, and every other two levels meet too."""


def grid_id(row):
    return (
        f"H{row['hidden_size']}-I{row['input_size']}-T{row['seq_len']}-B{row['batch']}"
        f"-L{row['num_layers']}{'-bi' if row['bidirectional'] else ''}-{row['nonlinearity']}"
        f"{'' if row['bias'] else '-nobias'}-{str(row['dtype']).removeprefix('torch.')}"
        f"{'-grad' if row['grad'] else ''}{'-dropout' if row['dropout'] else ''}"
        f"-h0{row['h0']}-{row['layout']}"
    )


def grid_case(row, index):
    config = ModuleConfig(
        row["input_size"],
        row["hidden_size"],
        num_layers=row["num_layers"],
        nonlinearity=row["nonlinearity"],
        bias=row["bias"],
        bidirectional=row["bidirectional"],
        batch_first=row["layout"] == "batch_first",
        dropout=row["dropout"],
    )
    layout = {"batch_first": "batched"}.get(row["layout"], row["layout"])
    seq_len, batch = row["seq_len"], row["batch"]
    lengths = None
    if layout.startswith("packed"):
        # the longest is seq_len; the others spread over [1, seq_len], in the caller's order
        lengths = tuple(seq_len if b == 0 else 1 + (index + 5 * b) % seq_len for b in range(batch))
        if layout == "packed_sorted":
            lengths = tuple(sorted(lengths, reverse=True))
    case = InputCase(
        layout,
        seq_len=seq_len,
        batch=batch,
        lengths=lengths,
        with_h0=row["h0"] != "omitted",
        seed=index,
    )
    return config, case


def fast_path_layers(config, case, row):
    """How many layer-directions the fast path runs for: every one of padded input, except
    for half-precision gradients (the step-by-step loop follows nn.RNN's rounding there)."""
    if case.packed or (row["dtype"] in HALF and row["grad"]):
        return 0
    return config.num_layers * config.num_directions


def grid_run(module, config, case, row):
    """Output, h_n, the RNG state afterwards and, with grad, d/dinput and d/dh0."""
    inputs = make_inputs(config, case, row["dtype"], requires_grad=row["grad"])
    h0 = inputs.h0
    if row["h0"] == NON_CONTIGUOUS:
        h0 = strided_copy(h0)
    torch.manual_seed(case.seed)
    with torch.set_grad_enabled(row["grad"]):
        output, h_n = module(*((inputs.input,) if h0 is None else (inputs.input, h0)))
    if case.packed:
        output = output.data
    results = {"output": output, "h_n": h_n, "rng": torch.get_rng_state()}
    if row["grad"]:
        g_out, g_h = upstream_grads(output, h_n, case)
        torch.autograd.backward((output, h_n), (g_out, g_h))
        results["input.grad"] = inputs.padded.grad
        if h0 is not None:
            results["h0.grad"] = h0.grad
    return results


@pytest.mark.parametrize("index", range(len(GRID)), ids=[grid_id(row) for row in GRID])
def test_exact_parity_grid(index, fast_path_runs):
    """Output, h_n and the RNG state (dropout's masks) bit for bit with nn.RNN; with grad,
    d/dinput and d/dh0 too (each step's gradient and the GEMMs after it are autograd's own;
    only weight gradients sum over steps in another order). The fast path runs wherever it
    ran before the alignment fix (:func:`fast_path_layers`)."""
    row = GRID[index]
    config, case = grid_case(row, index)
    reference, impl = build_pair(RNN, config, case, row["dtype"])
    expected = grid_run(reference, config, case, row)
    actual = grid_run(impl, config, case, row)
    assert len(fast_path_runs) == fast_path_layers(config, case, row), "the fast path ran elsewhere"
    assert actual.keys() == expected.keys()
    for name, e in expected.items():
        a = actual[name]
        assert a.shape == e.shape and a.dtype == e.dtype, name
        assert torch.equal(a, e), (
            f"{name} differs: max abs {(a.double() - e.double()).abs().max():.3g}"
        )


CELL_GRID = covering_array(
    {
        "hidden_size": range(1, 34),
        "input_size": range(1, 34),
        "batch": range(10),
        "nonlinearity": ("tanh", "relu"),
        "bias": (True, False),
        "dtype": (torch.float32, torch.float64, *HALF),
        "grad": (False, True),
        "hx": ("given", "omitted", NON_CONTIGUOUS),
        "layout": ("batched", "unbatched"),
    }
)
"""The RNNCell's grid: the same levels where they apply (a cell has no sequence, layers or
directions; batch 0 included)."""


@pytest.mark.parametrize(
    "row",
    CELL_GRID,
    ids=[
        f"H{r['hidden_size']}-I{r['input_size']}-B{r['batch']}-{r['nonlinearity']}"
        f"{'' if r['bias'] else '-nobias'}-{str(r['dtype']).removeprefix('torch.')}"
        f"{'-grad' if r['grad'] else ''}-hx{r['hx']}-{r['layout']}"
        for r in CELL_GRID
    ],
)
def test_exact_parity_grid_cell(row):
    """h' and, with grad, d/dinput and d/dhx bit for bit with nn.RNNCell."""
    config = ModuleConfig(
        row["input_size"], row["hidden_size"], nonlinearity=row["nonlinearity"], bias=row["bias"]
    )
    case = InputCase(row["layout"], seq_len=1, batch=row["batch"], with_h0=row["hx"] != "omitted")
    reference, impl = build_pair(CELL, config, case, row["dtype"])
    results = []
    for module in (reference, impl):
        inputs = make_cell_inputs(config, case, row["dtype"], requires_grad=row["grad"])
        hx = inputs.h0
        if row["hx"] == NON_CONTIGUOUS:
            hx = strided_copy(hx)
        with torch.set_grad_enabled(row["grad"]):
            h = module(*((inputs.input,) if hx is None else (inputs.input, hx)))
        found = {"h'": h}
        if row["grad"]:
            h.backward(upstream_grads(h, h, case)[0])
            found["input.grad"] = inputs.input.grad
            if hx is not None:
                found["hx.grad"] = hx.grad
        results.append(found)
    expected, actual = results
    assert actual.keys() == expected.keys()
    for name, e in expected.items():
        a = actual[name]
        assert a.shape == e.shape and a.dtype == e.dtype and torch.equal(a, e), name
