"""rnn_impl.RNN with the rest of PyTorch: state dicts, conversions, serialization, meta,
torch.func (including vmap, which nn.RNN lacks)."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

import rnn_impl
from rnn_impl.testing.cases import InputCase, ModuleConfig, make_inputs
from rnn_impl.testing.oracle import build_pair
from tests.support import RNN

CONFIG = ModuleConfig(3, 4, num_layers=2, bidirectional=True)
CASE = InputCase("batched", seq_len=5, batch=3)


@pytest.fixture
def pair():
    return build_pair(RNN, CONFIG, CASE)


def outputs(module, dtype=torch.float32, device="cpu"):
    with torch.no_grad():
        return module(*make_inputs(CONFIG, CASE, dtype, device).args())


def assert_same(a, b):
    assert all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))


def test_load_state_dict_both_ways(pair):
    reference, impl = pair
    fresh_impl = rnn_impl.RNN(**CONFIG.kwargs())
    fresh_impl.load_state_dict(reference.state_dict())
    fresh_ref = nn.RNN(**CONFIG.kwargs())
    fresh_ref.load_state_dict(impl.state_dict())
    assert_same(outputs(fresh_impl), outputs(reference))
    assert_same(outputs(fresh_ref), outputs(impl))


@pytest.mark.parametrize(
    "convert, dtype",
    [
        (lambda m: m.double(), torch.float64),
        (lambda m: m.half(), torch.float16),
        (lambda m: m.bfloat16(), torch.bfloat16),
        (lambda m: m.to(torch.float64), torch.float64),
        (lambda m: m.to(device="cpu", dtype=torch.float16), torch.float16),
    ],
)
def test_conversions(pair, convert, dtype):
    reference, impl = (convert(m) for m in pair)
    assert {p.dtype for p in impl.parameters()} == {dtype}
    assert_same(outputs(impl, dtype), outputs(reference, dtype))


@pytest.mark.parametrize(
    "round_trip",
    [
        copy.deepcopy,
        lambda m: pickle.loads(pickle.dumps(m)),
        lambda m: _torch_round_trip(m, weights_only=False),
    ],
    ids=["deepcopy", "pickle", "torch.save"],
)
def test_module_round_trips(pair, round_trip):
    _, impl = pair
    restored = round_trip(impl)
    assert type(restored) is rnn_impl.RNN and repr(restored) == repr(impl)
    assert_same(outputs(restored), outputs(impl))


def test_state_dict_round_trip_with_weights_only(pair):
    _, impl = pair
    buffer = io.BytesIO()
    torch.save(impl.state_dict(), buffer)
    buffer.seek(0)
    fresh = rnn_impl.RNN(**CONFIG.kwargs())
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert_same(outputs(fresh), outputs(impl))


def _torch_round_trip(module, weights_only):
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=weights_only)


@pytest.mark.parametrize("layout", ["batched", "unbatched", "packed_unsorted"])
def test_meta_device_gives_shapes_like_nn_rnn(layout):
    config = ModuleConfig(300, 1000, num_layers=3, bidirectional=True, batch_first=True)
    case = InputCase(layout, seq_len=50, batch=4, lengths=(50, 7, 50, 3))
    reference, impl = (cls(**config.kwargs(), device="meta") for cls in (nn.RNN, rnn_impl.RNN))
    inputs = make_inputs(config, case, device="meta")
    (out_e, h_e), (out_a, h_a) = reference(*inputs.args()), impl(*inputs.args())
    out_e = getattr(out_e, "data", out_e)
    out_a = getattr(out_a, "data", out_a)
    assert (out_a.shape, h_a.shape) == (out_e.shape, h_e.shape)
    assert {out_a.device.type, h_a.device.type} == {"meta"}


def test_functional_call_and_grad(pair):
    reference, impl = pair
    inputs = make_inputs(CONFIG, CASE)
    params = {k: v.detach() * 0.5 for k, v in reference.named_parameters()}
    assert_same(
        functional_call(impl, params, inputs.args()),
        functional_call(reference, params, inputs.args()),
    )
    assert all(p.grad is None for p in impl.parameters())

    def loss(module):
        return lambda p: functional_call(module, p, inputs.args())[0].square().sum()

    expected, actual = grad(loss(reference))(params), grad(loss(impl))(params)
    assert list(actual) == list(expected)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=0, atol=0)


def test_vmap_over_unbatched_sequences(pair):
    _, impl = pair
    xs = make_inputs(CONFIG, InputCase("batched", seq_len=5, batch=6)).input.transpose(0, 1)
    out, h_n = vmap(impl)(xs)
    for i, x in enumerate(xs):
        o, h = impl(x)
        torch.testing.assert_close(out[i], o)
        torch.testing.assert_close(h_n[i], h)


def test_vmap_over_parameters(pair):
    reference, impl = pair
    stacked = {
        k: torch.stack([v.detach(), 2 * v.detach()]) for k, v in reference.named_parameters()
    }
    x = make_inputs(CONFIG, CASE).input
    out = vmap(lambda p: functional_call(impl, p, (x,))[0])(stacked)
    for i in range(2):
        one = {k: v[i] for k, v in stacked.items()}
        torch.testing.assert_close(out[i], functional_call(reference, one, (x,))[0])


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_jit_trace_matches(pair):
    reference, impl = pair
    inputs = make_inputs(CONFIG, CASE)
    traced = torch.jit.trace(impl, inputs.args())
    with torch.no_grad():
        assert_same(traced(*inputs.args()), reference(*inputs.args()))


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_torch_export_with_static_shapes_gives_eager_results_bit_for_bit(name):
    """Exported, each layer is one rnn_impl.ops.layer, whose kernel is the eager layer: the
    program gives what eager gives, hence what torch gives (dynamic lengths: test_compile)."""
    torch.manual_seed(0)
    module = getattr(rnn_impl, name)(3, 4, num_layers=2, bidirectional=True).eval()
    x = torch.randn(5, 3, 3)
    exported = torch.export.export(module, (x,)).module()
    with torch.no_grad():
        flat = torch.utils._pytree.tree_leaves
        assert_same(flat(exported(x)), flat(module(x)))


@pytest.mark.parametrize("family", ["RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell"])
@pytest.mark.parametrize("batched", [False, True], ids=["unbatched", "batched"])
def test_vmap_over_inputs_of_every_family(family, batched):
    """vmap over a stack of inputs is a loop over them, within rounding (vmap folds the stack
    into the products); the gated steps' first state is unbatched, the input batched."""
    torch.manual_seed(0)
    cell = family.endswith("Cell")
    options = {} if cell else {"num_layers": 2, "bidirectional": True}
    module = getattr(rnn_impl, family)(3, 4, **options)
    shape = (5, *([] if cell else [7]), *([2] if batched else []), 3)
    xs = torch.randn(*shape)
    leaves = torch.utils._pytree.tree_leaves
    mapped = vmap(lambda x: tuple(leaves(module(x))))(xs)
    looped = [torch.stack(parts) for parts in zip(*(leaves(module(x)) for x in xs))]
    for got, expected in zip(mapped, looped, strict=True):
        torch.testing.assert_close(got, expected)
