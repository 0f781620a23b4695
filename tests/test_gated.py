"""rnn_impl.LSTM, GRU, LSTMCell and GRUCell against torch's: constructor, parameters,
initialisation, repr, errors, and results and gradients bit for bit on CPU.

nn.LSTM hands float32 (and, where oneDNN supports them, bfloat16 / float16) layers to
oneDNN's fused kernel; the exact comparisons run nn.LSTM on ATen's native path
(``torch.backends.mkldnn.flags(enabled=False)``), which is the computation rnn_impl.LSTM
mirrors, and :func:`test_lstm_is_close_to_nn_lstm_on_onednn` compares with oneDNN's route.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnn_impl
from rnn_impl.testing.cases import InputCase, ModuleConfig, make_inputs
from rnn_impl.testing.invalid_calls import (
    CELL_CONSTRUCTOR_CASES,
    CELL_FORWARD_CASES,
    CONSTRUCTOR_CASES,
    FORWARD_CASES,
    LSTM_CELL_CASES,
    LSTM_FORWARD_CASES,
    PROJ_CASES,
    PROJ_POSITIONAL,
    ErrorSizes,
    as_pair,
    assert_same_outcome,
    outcome,
)
from rnn_impl.testing.oracle import build_pair
from tests.support import DROP_INS, DTYPES, assert_identical, both, native, tensors

MODULES = {"GRU": (nn.GRU, rnn_impl.GRU), "LSTM": (nn.LSTM, rnn_impl.LSTM)}
CELLS = {"GRUCell": (nn.GRUCell, rnn_impl.GRUCell), "LSTMCell": (nn.LSTMCell, rnn_impl.LSTMCell)}
INPUT, HIDDEN, STEPS, BATCH = 5, 7, 6, 4

CONFIGS = [
    ModuleConfig(INPUT, HIDDEN, family="gru"),
    ModuleConfig(INPUT, HIDDEN, 2, bidirectional=True, batch_first=True, family="gru"),
    ModuleConfig(INPUT, HIDDEN, 3, bias=False, family="gru"),
    ModuleConfig(INPUT, HIDDEN, family="lstm"),
    ModuleConfig(INPUT, HIDDEN, 2, bidirectional=True, batch_first=True, family="lstm"),
    ModuleConfig(INPUT, HIDDEN, 2, bias=False, family="lstm"),
    ModuleConfig(INPUT, HIDDEN, 2, bidirectional=True, proj_size=3, family="lstm"),
    ModuleConfig(INPUT, HIDDEN, batch_first=True, bias=False, proj_size=2, family="lstm"),
]
CASES = [
    InputCase("batched", STEPS, BATCH),
    InputCase("batched", STEPS, BATCH, with_h0=False),
    InputCase("unbatched", STEPS),
    InputCase("packed_unsorted", STEPS, BATCH, lengths=(2, 6, 1, 5)),
    InputCase("packed_sorted", STEPS, BATCH, lengths=(6, 5, 2, 1)),
    InputCase("batched", STEPS, 0),
]


def case_id(case: InputCase) -> str:
    return f"{case.layout}-B{case.batch}" + ("" if case.with_h0 else "-no-state")


def linear_loss(results: list[torch.Tensor]) -> torch.Tensor:
    """A fixed linear function of every result, for gradients."""
    return sum(
        (r * torch.linspace(-1, 1, r.numel(), dtype=r.dtype).view_as(r)).sum() for r in results
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_forward_is_bit_exact(config, case, dtype):
    reference, impl = build_pair(DROP_INS[config.family], config, case, dtype)
    args = make_inputs(config, case, dtype).args()
    with native():
        expected = tensors(reference(*args))
    assert_identical(expected, tensors(impl(*args)))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_gradients_are_bit_exact(config, case, dtype):
    """Gradients of every parameter, the input and the initial states."""
    grads = []
    for module in build_pair(DROP_INS[config.family], config, case, dtype):
        inputs = make_inputs(config, case, dtype, requires_grad=True)
        with native():
            results = tensors(module(*inputs.args()))
        leaves = [inputs.padded, *tensors(inputs.h0), *module.parameters()]
        grads.append(list(torch.autograd.grad(linear_loss(results), leaves)))
    assert_identical(*grads)


@pytest.mark.parametrize("kind", MODULES)
def test_dropout_draws_like_torch(kind):
    """Training-mode dropout between layers: the same masks from the same global RNG state."""
    reference, impl = both(*MODULES[kind], INPUT, HIDDEN, num_layers=3, dropout=0.4)
    x = torch.randn(STEPS, BATCH, INPUT)
    results = []
    for module in (reference, impl):
        torch.manual_seed(7)
        with native():
            results.append(tensors(module(x)) + [torch.get_rng_state()])
    assert_identical(*results)


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_is_close_to_nn_lstm_on_onednn(batch_first):
    """Where nn.LSTM uses oneDNN (float32 here), the two agree to float32 rounding, not bit
    for bit: the tolerance is torch.testing's default for float32."""
    config = ModuleConfig(
        INPUT, HIDDEN, 2, batch_first=batch_first, bidirectional=True, family="lstm"
    )
    case = InputCase("batched", STEPS, BATCH, seed=2)
    reference, impl = build_pair(DROP_INS["lstm"], config, case)
    args = make_inputs(config, case).args()
    for expected, actual in zip(tensors(reference(*args)), tensors(impl(*args)), strict=True):
        torch.testing.assert_close(actual, expected)


ERROR_CALLS = [
    *[("GRU", name, {}) for name in FORWARD_CASES],
    *[
        ("LSTM", name, kwargs)
        for name in [*FORWARD_CASES, *LSTM_FORWARD_CASES]
        for kwargs in ({}, {"proj_size": 2})
    ],
]


@pytest.mark.parametrize("kind, name, kwargs", ERROR_CALLS, ids=lambda v: str(v) if v else "")
def test_forward_errors_are_torchs(kind, name, kwargs):
    sizes = ErrorSizes(proj_size=kwargs.get("proj_size", 0))
    reference, impl = both(
        *MODULES[kind], sizes.input_size, sizes.hidden_size, sizes.num_layers, **kwargs
    )
    args = {**FORWARD_CASES, **LSTM_FORWARD_CASES}[name](sizes)
    if kind == "LSTM" and name in FORWARD_CASES:
        args = as_pair(args, sizes)
    with native():
        expected = outcome(reference, *args)
    assert_same_outcome(expected, outcome(impl, *args), f"{kind} {name}")


CONSTRUCTOR_CALLS = [
    *[("GRU", name) for name in [*CONSTRUCTOR_CASES, *PROJ_CASES]],
    *[("LSTM", name) for name in [*CONSTRUCTOR_CASES, *PROJ_CASES, *PROJ_POSITIONAL]],
]


@pytest.mark.parametrize("kind, name", CONSTRUCTOR_CALLS)
def test_constructor_outcomes(kind, name):
    args, kwargs = {**CONSTRUCTOR_CASES, **PROJ_CASES, **PROJ_POSITIONAL}[name]
    reference, impl = MODULES[kind]
    assert_same_outcome(
        outcome(reference, *args, **kwargs),
        outcome(impl, *args, **kwargs),
        f"{kind}(*{args}, **{kwargs})",
    )


@pytest.mark.parametrize(
    "kind, kwargs",
    [
        ("GRU", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)),
        ("GRU", dict(input_size=3, hidden_size=4, bias=False, batch_first=True, dropout=0.5)),
        ("LSTM", dict(input_size=3, hidden_size=4, num_layers=3, bidirectional=True)),
        ("LSTM", dict(input_size=3, hidden_size=5, num_layers=2, proj_size=2, bias=False)),
        ("LSTM", dict(input_size=3, hidden_size=5, proj_size=4, bidirectional=True, dropout=1)),
    ],
    ids=str,
)
def test_parameters_init_repr(kind, kwargs):
    reference, impl = both(*MODULES[kind], **kwargs)
    assert [(n, p.shape) for n, p in impl.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]
    assert all(torch.equal(a, b) for a, b in zip(impl.parameters(), reference.parameters()))
    assert repr(impl) == repr(reference)
    assert [[p.shape for p in w] for w in impl.all_weights] == [
        [p.shape for p in w] for w in reference.all_weights
    ]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("name", CELL_FORWARD_CASES)
def test_cell_forward_outcomes(name, kind, bias):
    reference, impl = both(*CELLS[kind], 3, 4, bias)
    args = CELL_FORWARD_CASES[name](ErrorSizes())
    args = as_pair(args, ErrorSizes()) if kind == "LSTMCell" else args
    assert_same_outcome(outcome(reference, *args), outcome(impl, *args), f"{kind} {name}")


@pytest.mark.parametrize("name", LSTM_CELL_CASES)
def test_lstm_cell_state_errors(name):
    reference, impl = both(*CELLS["LSTMCell"], 3, 4)
    args = LSTM_CELL_CASES[name](ErrorSizes())
    assert_same_outcome(outcome(reference, *args), outcome(impl, *args), name)


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("name", CELL_CONSTRUCTOR_CASES)
def test_cell_constructor_outcomes(name, kind):
    args, kwargs = CELL_CONSTRUCTOR_CASES[name]
    reference, impl = CELLS[kind]
    assert_same_outcome(
        outcome(reference, *args, **kwargs), outcome(impl, *args, **kwargs), f"{kind} {name}"
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 2, 1), (0, 3, 4), (None, 4, 9)], ids=str)
@pytest.mark.parametrize("kind", CELLS)
def test_cells_are_bit_exact_with_gradients(kind, shape, dtype):
    """Results and the gradients of input, states and parameters (``None``: unbatched)."""
    batch, features, hidden = shape
    reference, impl = both(*CELLS[kind], features, hidden, dtype=dtype)
    assert repr(impl) == repr(reference)
    assert all(torch.equal(a, b) for a, b in zip(impl.parameters(), reference.parameters()))
    lead = () if batch is None else (batch,)
    results = []
    for module in (reference, impl):
        generator = torch.Generator().manual_seed(3)
        x = torch.randn(*lead, features, generator=generator).to(dtype).requires_grad_()
        h = torch.randn(*lead, hidden, generator=generator).to(dtype).requires_grad_()
        c = torch.randn(*lead, hidden, generator=generator).to(dtype).requires_grad_()
        state = (h, c) if kind == "LSTMCell" else h
        out = module(x, state)
        out = list(out) if isinstance(out, tuple) else [out]
        loss = linear_loss(out)
        leaves = [x, h, *([c] if kind == "LSTMCell" else []), *module.parameters()]
        results.append(out + list(torch.autograd.grad(loss, leaves, allow_unused=True)))
    assert_identical(*results)


def test_drop_ins_are_exported():
    assert {"GRU", "LSTM", "GRUCell", "LSTMCell"} <= set(rnn_impl.__all__)
    assert all(getattr(rnn_impl, name) for name in rnn_impl.__all__)
