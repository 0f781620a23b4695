"""The drop-ins under torch.compile and torch.export: a module's stack of layers (a cell's step,
a layer of a subclass that overrides one) is one operation to the compiler (rnn_impl.ops), so
results and gradients are eager's bit for bit,
the sequence length stays symbolic (at most one recompile, none with dynamic=True), dropout
draws eager's masks, and a dynamic sequence length exports, saves and loads."""

from __future__ import annotations

import io

import pytest
import torch
import torch._inductor.config
from torch._dynamo.testing import CompileCounterWithBackend
from torch.export import Dim

import rnn_impl
from rnn_impl import ops
from rnn_impl.testing.properties.workflows import cpp_compiler_found

MODULES = {
    "RNN": lambda: rnn_impl.RNN(3, 4, num_layers=2, bidirectional=True),
    "RNN_relu": lambda: rnn_impl.RNN(3, 4, nonlinearity="relu", bias=False),
    "GRU": lambda: rnn_impl.GRU(3, 4, num_layers=2, bidirectional=True),
    "LSTM": lambda: rnn_impl.LSTM(3, 4, num_layers=2, bidirectional=True),
    "LSTM_proj": lambda: rnn_impl.LSTM(3, 4, num_layers=2, proj_size=2),
}
CELLS = {
    "RNNCell": lambda: rnn_impl.RNNCell(3, 4),
    "GRUCell": lambda: rnn_impl.GRUCell(3, 4),
    "LSTMCell": lambda: rnn_impl.LSTMCell(3, 4),
}


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Dynamo remembers which sizes changed per code object, across modules: each test starts
    from nothing."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def build(make):
    torch.manual_seed(0)
    return make()


def results(module, shape, seed=1):
    """The module's outputs on an input of ``shape`` (drawn from ``seed``), then the
    gradients of a loss over all of them with respect to the input and every parameter."""
    torch.manual_seed(seed)
    x = torch.randn(*shape, requires_grad=True)
    module.zero_grad(set_to_none=True)
    torch.manual_seed(seed + 1)  # dropout's masks
    outputs = torch.utils._pytree.tree_leaves(module(x))
    sum(o.pow(2).sum() + o.sum() for o in outputs).backward()
    grads = [p.grad for p in module.parameters()]
    return [o.detach() for o in outputs] + [x.grad] + grads


def assert_same(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("name", MODULES)
def test_compiled_module_is_eager_bit_for_bit_with_one_recompile(name):
    module = build(MODULES[name])
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(module, backend=counter, fullgraph=True)
    for length in (5, 9, 12):
        assert_same(results(compiled, (length, 2, 3)), results(module, (length, 2, 3)))
    assert counter.frame_count == 2  # the first length, then one graph for every length


@pytest.mark.parametrize("family", ["RNN", "GRU", "LSTM"])
def test_compiled_batch_first_and_unbatched_are_eager_with_and_without_grad(family):
    """Eager's rounding depends on what requires grad (ATen's matmul folds a batch-first
    input into one GEMM only when the weight does), which the operation is told."""
    module = build(lambda: getattr(rnn_impl, family)(3, 4, batch_first=True, bidirectional=True))
    compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
    for shape in [(2, 5, 3), (5, 3)]:
        assert_same(results(compiled, shape), results(module, shape))
        x = torch.randn(*shape)
        with torch.no_grad():
            flat = torch.utils._pytree.tree_leaves
            assert_same(flat(compiled(x)), flat(module(x)))


@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_dynamic_true_compiles_once_for_every_length_and_batch(name):
    module = build(MODULES[name])
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(module, backend=counter, dynamic=True, fullgraph=True)
    frames = []
    for shape in [(2, 5, 3), (7, 2, 3), (4, 6, 3)]:  # no two sizes alike (duck sizing)
        assert_same(results(compiled, shape), results(module, shape))
        frames.append(counter.frame_count)
    assert frames[0] > 0 and frames == frames[:1] * 3  # nothing compiled after the first call


DROPOUT = {
    "LSTM": lambda: rnn_impl.LSTM(3, 4, num_layers=3, dropout=0.5),
    "LSTM_proj_bidirectional": lambda: rnn_impl.LSTM(
        3, 4, num_layers=2, dropout=0.3, proj_size=2, bidirectional=True
    ),
    "RNN_p1": lambda: rnn_impl.RNN(3, 4, num_layers=2, dropout=1.0, batch_first=True),
}


@pytest.mark.parametrize("autocast", [None, torch.bfloat16], ids=["", "autocast"])
@pytest.mark.parametrize("name", DROPOUT)
def test_compiled_dropout_draws_eagers_masks(name, autocast):
    module = build(DROPOUT[name]).train()
    compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
    with torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
        assert_same(results(compiled, (6, 2, 3)), results(module, (6, 2, 3)))


@pytest.mark.parametrize("name", CELLS)
def test_compiled_cell_is_eager_bit_for_bit(name):
    cell = build(CELLS[name])
    compiled = torch.compile(cell, backend="aot_eager", fullgraph=True)
    for shape in [(2, 3), (3,)]:
        assert_same(results(compiled, shape), results(cell, shape))


@pytest.mark.parametrize(
    "low, state",
    [
        (torch.bfloat16, "omitted"),
        (torch.float16, "float32"),
        (torch.bfloat16, "low"),
        (torch.float16, "low"),
    ],
    ids=["bfloat16-omitted", "float16-float32", "bfloat16-low", "float16-low"],
)
@pytest.mark.parametrize("name", MODULES)
def test_compiled_under_autocast_is_one_operation_and_eager_bit_for_bit(name, low, state):
    """Under CPU autocast the stack is still one operation, which runs eager's autocast: the
    results' dtypes (which autocast decides operation by operation) and values, and the
    gradients, are eager's; nothing unrolled."""
    module = build(MODULES[name])
    x = torch.randn(6, 2, 3)
    hx = None
    if state != "omitted":
        dtype = torch.float32 if state == "float32" else low
        layers, width = module.num_layers * module.num_directions, module._output_size()
        h = torch.randn(layers, 2, width).to(dtype)
        hx = (h, torch.randn(layers, 2, 4).to(dtype)) if module.mode == "LSTM" else h
    with torch.autocast("cpu", dtype=low):
        graph = torch.export.export(module, (x, hx)).graph
        compiled = torch.compile(module, backend="aot_eager", fullgraph=True)

        def run(m):
            torch.manual_seed(3)
            x_ = x.clone().requires_grad_()
            module.zero_grad(set_to_none=True)
            outputs = torch.utils._pytree.tree_leaves(m(x_, hx))
            sum(o.float().pow(2).sum() for o in outputs).backward()
            return [o.detach() for o in outputs] + [x_.grad] + [p.grad for p in module.parameters()]

        assert_same(run(compiled), run(module))
    targets = [node.target for node in graph.nodes if node.op == "call_function"]
    assert targets.count(torch.ops.rnn_impl.stack.default) == 1


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM_proj"])
def test_compiled_torch_func_transforms_trace_the_eager_layers(name):
    """Under ``torch.func.grad`` or ``vmap`` the operations stand aside (their autograd knows
    no functorch transform): the eager layer's operations are traced, within the compiler's
    rounding of eager."""
    module = build(MODULES[name])
    params = dict(module.named_parameters())
    x, xs = torch.randn(5, 2, 3), torch.randn(4, 5, 2, 3)

    def loss(p, x):
        return torch.func.functional_call(module, p, (x,))[0].pow(2).sum()

    def run(x):
        return module(x)[0]

    grad = torch.compile(torch.func.grad(loss), backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(grad(params, x), torch.func.grad(loss)(params, x))
    vmapped = torch.compile(torch.func.vmap(run), backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(vmapped(xs), torch.func.vmap(run)(xs))


@pytest.mark.parametrize("name", ["GRU", "LSTM_proj"])
def test_an_exported_program_under_vmap_computes_each_sample_as_alone(name):
    """The operations' batching rule: each sample alone, bit for bit the module on it."""
    module = build(MODULES[name]).eval()
    xs = torch.randn(4, 5, 2, 3)
    program = torch.export.export(module, (xs[0],)).module()
    with torch.no_grad():
        got = torch.func.vmap(lambda x: program(x)[0])(xs)
        assert_same(list(got), [module(x)[0] for x in xs])


@pytest.mark.skipif(
    not cpp_compiler_found(), reason="inductor needs a C++ compiler on the CPU; none is on PATH"
)
def test_inductor_compiles_in_seconds_whatever_the_length_bit_for_bit():
    """Inductor's caches are off: their key leaves out the vector ISA that
    ATEN_CPU_CAPABILITY selects, so kernels cached under one mode run, wrong, under another
    (a torch defect, docs/drop-ins.md)."""
    module = build(MODULES["LSTM"])
    with torch._inductor.config.patch(force_disable_caches=True):
        compiled = torch.compile(module)
        for length in (50, 57):
            assert_same(results(compiled, (length, 2, 3)), results(module, (length, 2, 3)))


@pytest.mark.skipif(
    not cpp_compiler_found(), reason="inductor needs a C++ compiler on the CPU; none is on PATH"
)
@pytest.mark.parametrize(
    "make", [lambda: rnn_impl.RNN(3, 4, num_layers=2), CELLS["RNNCell"]], ids=["RNN", "RNNCell"]
)
def test_inductor_may_write_over_an_operations_results_without_touching_its_graph(make):
    """Inductor reuses a dead buffer in place (here ``tanh(out * 2)`` over ``out``, compiled
    with the module): what an operation returns must not be what the graph it keeps for its
    backward saved."""
    module = build(make)
    x = torch.randn(5, 2, 3) if isinstance(module, rnn_impl.RNN) else torch.randn(2, 3)

    def loss(x):
        out = module(x)
        return torch.tanh((out[0] if isinstance(out, tuple) else out) * 2).pow(2).sum()

    def grads(run):
        module.zero_grad(set_to_none=True)
        run(x).backward()
        return [p.grad for p in module.parameters()]

    with torch._inductor.config.patch(force_disable_caches=True):
        got = grads(torch.compile(loss))
    for g, e in zip(got, grads(loss)):
        torch.testing.assert_close(g, e)  # inductor's own tanh and pow round otherwise


@pytest.mark.parametrize("name", ["RNN_relu", "GRU"])
def test_a_compiled_output_changed_in_place_before_backward_keeps_eagers_gradients(name):
    module = build(MODULES[name])
    x = torch.randn(5, 2, 3)

    def grads(run):
        module.zero_grad(set_to_none=True)
        out = run(x)[0]
        out.mul_(3)
        out.pow(2).sum().backward()
        return [p.grad for p in module.parameters()]

    assert_same(grads(torch.compile(module, backend="aot_eager")), grads(module))


class Kept(dict):
    """``ops._GRAPHS`` that counts the graphs kept in it."""

    count = 0

    def __setitem__(self, key, value):
        self.count += 1
        super().__setitem__(key, value)


@pytest.mark.parametrize("name", MODULES)
def test_an_exported_program_keeps_no_graph(name, monkeypatch):
    """An exported program runs without the compiled backward: its operations keep no graph,
    whatever the grad mode it was exported in, and so cost no more in ``no_grad``."""
    module = build(MODULES[name])
    x = torch.randn(5, 2, 3)
    program = torch.export.export(module, (x,)).module()
    kept = Kept()
    monkeypatch.setattr(ops, "_GRAPHS", kept)
    with torch.no_grad():
        program(x)
    program(x)
    assert kept.count == 0


@pytest.mark.parametrize("name", MODULES)
def test_export_with_a_dynamic_length_saves_loads_and_is_eager(name):
    module = build(MODULES[name]).eval()
    x = torch.randn(5, 2, 3)
    exported = torch.export.export(module, (x,), dynamic_shapes=({0: Dim("seq", min=2)},))
    buffer = io.BytesIO()
    torch.export.save(exported, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer).module()
    flat = torch.utils._pytree.tree_leaves
    with torch.no_grad():
        for length in (2, 11):
            x = torch.randn(length, 2, 3)
            assert_same(flat(loaded(x)), flat(module(x)))
            assert_same(flat(exported.module()(x)), flat(module(x)))


def _layer_args(mode, cell, lstm_c=True):
    torch.manual_seed(0)
    gates = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}[mode]
    x = torch.randn(3, 3) if cell else torch.randn(5, 3, 3)
    h = torch.randn(3, 4)
    c = torch.randn(3, 4) if mode == "LSTM" and lstm_c else None
    weights = [torch.randn(gates * 4, 3), torch.randn(gates * 4, 4)]
    biases = [torch.randn(gates * 4), torch.randn(gates * 4)]
    tensors = [x, h, c, *weights, *biases, None]
    args = [t if t is None else t.requires_grad_() for t in tensors]
    return (*args, mode, False, cell, [t is not None for t in args], True, True)


@pytest.mark.parametrize("cell", [False, True], ids=["layer", "cell"])
@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "GRU", "LSTM"])
def test_opcheck_layer(mode, cell):
    torch.library.opcheck(ops.layer, _layer_args(mode, cell))


@pytest.mark.parametrize("mode", ["RNN_TANH", "GRU", "LSTM"])
def test_opcheck_layer_backward(mode):
    """With the token of the graph the forward recorded, and without (recomputed)."""
    args = [t for t in _layer_args(mode, False)[:8] if t is not None]
    inputs = [t.detach() for t in args]
    outputs = ops.layer(*_layer_args(mode, False))
    visible = len(outputs) - 1
    grads = [torch.randn_like(o) for o in outputs[:visible]]
    present = [t is not None for t in _layer_args(mode, False)[:8]]
    needs = [True] * len(inputs)
    for token in (outputs[visible:], []):
        args = (grads, inputs, present, needs, token, mode, False, False)
        torch.library.opcheck(ops.layer_backward, args)


def _stack_args(name, dropout):
    """:func:`ops.stack`'s arguments for the module ``MODULES[name]``, with dropout noise
    between its layers when ``dropout``."""
    module = build(MODULES[name])
    layers, width = module.num_layers * module.num_directions, module._output_size()
    x = torch.randn(5, 2, 3, requires_grad=True)
    h = torch.randn(layers, 2, width, requires_grad=True)
    c = torch.randn(layers, 2, 4, requires_grad=True) if module.mode == "LSTM" else None
    given = [x, h, c, *(t for w in module.layer_weights() for t in w)]
    tensors = [t for t in given if t is not None]
    noise = [torch.rand(5, 2, module.num_directions * width) for _ in range(module.num_layers - 1)]
    options = (module.mode, module.num_layers, bool(module.bidirectional))
    present = [t is not None for t in given]
    flags = [True] * len(tensors)
    return tensors, present, noise if dropout else [], *options, flags, True, None, True


@pytest.mark.parametrize("dropout", [False, True], ids=["", "dropout"])
@pytest.mark.parametrize("name", MODULES)
def test_opcheck_stack(name, dropout):
    torch.library.opcheck(ops.stack, _stack_args(name, dropout))


@pytest.mark.parametrize("name", MODULES)
def test_opcheck_stack_backward(name):
    """With the token of the graph the forward recorded, and without (recomputed)."""
    tensors, present, noise, *options, _, _, autocast, _ = _stack_args(name, True)
    options.append(autocast)
    results = ops.stack(*_stack_args(name, True))
    visible = 3 if present[2] else 2
    grads = [torch.randn_like(o) for o in results[:visible]]
    inputs = [t.detach() for t in tensors]
    needs = [True] * len(inputs)
    for token in (results[visible:], []):
        args = (grads, inputs, present, needs, noise, token, *options)
        torch.library.opcheck(ops.stack_backward, args)


@pytest.mark.parametrize("name", MODULES)
def test_the_backward_takes_the_graph_its_forward_recorded(name, monkeypatch):
    """In grad mode a stack returns a token after its results, by which its backward finds
    the graph the forward recorded instead of running the stack again: the same gradients,
    bit for bit, as a backward that runs it again; the graph goes with the token."""
    tensors, present, noise, *options, _, _, autocast, _ = _stack_args(name, True)
    options.append(autocast)
    results = ops.stack(*_stack_args(name, True))
    visible = 3 if present[2] else 2
    assert len(results) == visible + 1 and results[-1].numel() == 0
    grads = [torch.randn_like(o) for o in results[:visible]]
    inputs = [t.detach() for t in tensors]
    needs = [True] * len(inputs)
    recomputed = ops.stack_backward(grads, inputs, present, needs, noise, [], *options)
    runs = []
    monkeypatch.setattr(ops, "run_stack", lambda *a: runs.append(a))
    replayed = ops.stack_backward(grads, inputs, present, needs, noise, results[-1:], *options)
    assert not runs
    assert_same(replayed, recomputed)
    graphs = len(ops._GRAPHS)
    del results
    assert len(ops._GRAPHS) == graphs - 1


def exporting_while_compiling() -> bool:
    """Whether this torch's ``torch.compiler.is_exporting()`` is true while torch.compile
    traces (torch 2.9): then the operations keep no graph (``ops._records``)."""
    probe = torch.compile(
        lambda x: x + 1 if torch.compiler.is_exporting() else x, backend="eager", fullgraph=True
    )
    return bool(probe(torch.zeros(())) == 1)


@pytest.mark.parametrize("name", MODULES)
def test_a_compiled_training_step_runs_the_recurrence_once(name, monkeypatch, request):
    """As in eager mode: the backward runs the graph the forward recorded; the step's results
    and gradients are eager's bit for bit, and every recorded graph goes with its step."""
    if exporting_while_compiling():  # probed here, not when the module is collected
        reason = (
            "this torch's torch.compiler.is_exporting() is true while torch.compile traces "
            "(torch 2.9), so the operations keep no graph and the backward runs the stack "
            "again (eager's gradients)"
        )
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    module = build(MODULES[name]).train()
    compiled = torch.compile(module, backend="aot_eager")
    expected = results(module, (6, 2, 3))
    runs = []
    real = ops.run_stack
    monkeypatch.setattr(ops, "run_stack", lambda *a: runs.append(1) or real(*a))
    assert_same(results(compiled, (6, 2, 3)), expected)
    assert len(runs) == 1
    assert not ops._GRAPHS


class LoggedLayers(rnn_impl.GRU):
    """A subclass that overrides :meth:`layer` (and calls torch's): traced layer by layer."""

    def layer(self, input, state, weights, reverse=False, batch_sizes=None):
        return super().layer(input, state, weights, reverse, batch_sizes)


@pytest.mark.parametrize(
    "make, op, count",
    [
        (MODULES["GRU"], torch.ops.rnn_impl.stack.default, 1),
        (MODULES["LSTM_proj"], torch.ops.rnn_impl.stack.default, 1),
        (
            lambda: LoggedLayers(3, 4, num_layers=2, bidirectional=True),
            torch.ops.rnn_impl.layer.default,
            4,
        ),
    ],
    ids=["GRU", "LSTM_proj", "layer overridden"],
)
def test_a_traced_stack_is_one_operation_and_a_subclass_layer_one_per_layer(make, op, count):
    """What the compiler sees: one stack operation, and no time step of its own (no addmm);
    a subclass's overridden layer, one layer operation per layer and direction, still eager's
    bit for bit."""
    module = build(make)
    graph = torch.export.export(module, (torch.randn(5, 2, 3),)).graph
    targets = [node.target for node in graph.nodes if node.op == "call_function"]
    assert targets.count(op) == count
    assert torch.ops.aten.addmm.default not in targets
    compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
    assert_same(results(compiled, (6, 2, 3)), results(module, (6, 2, 3)))


def test_opcheck_dropout_noise():
    # its draws differ from call to call: the checks that compare two calls' values are left out
    like = torch.randn(4, 3)
    for test in ("test_schema", "test_faketensor"):
        torch.library.opcheck(ops.dropout_noise, (like, 0.3), test_utils=test)
