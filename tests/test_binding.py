"""A user's class as it is: its constructor bound to torch's arguments by name, alias or
position (rnn_impl.testing.binding), its parameters mapped from names and shapes
(rnn_impl.testing.mapping), and what it cannot take left out of the verdict, never failed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from hypothesis import settings
from torch import nn

from rnn_impl.testing.adapter_source import adapter_source
from rnn_impl.testing.binding import bind
from rnn_impl.testing.cases import ModuleConfig
from rnn_impl.testing.kinds import GRU, RNN
from rnn_impl.testing.mapping import MappingError, map_parameters
from rnn_impl.testing.oracle import Adapter, Implementation, load_implementation
from rnn_impl.testing.properties import BY_NAME
from rnn_impl.testing.session import Session
from rnn_impl.testing.zoo.foreign import TextbookLSTM
from rnn_impl.testing.zoo.matrix import without_shrinking

CI_PROFILE = settings.get_profile("ci")

DEFAULTS = {"num_layers": 1, "nonlinearity": "tanh", "bias": True, "batch_first": False}
DEFAULTS |= {"dropout": 0.0, "bidirectional": False}


class Notebook(nn.Module):
    """The seed notebook's MyRNN, corrected: its constructor and parameter names, torch's
    results (batched input, h_n stacked)."""

    def __init__(self, input_size, hidden_size, layers_size, first_batch=False):
        super().__init__()
        self.hidden_size, self.layers_size, self.first_batch = hidden_size, layers_size, first_batch
        sizes = [input_size] + [hidden_size] * (layers_size - 1)
        self.w_in = nn.ParameterList(nn.Parameter(torch.randn(hidden_size, n)) for n in sizes)
        self.w_hh = nn.ParameterList(
            nn.Parameter(torch.randn(hidden_size, hidden_size)) for _ in sizes
        )
        self.bh = nn.ParameterList(nn.Parameter(torch.zeros(hidden_size)) for _ in sizes)

    def forward(self, inputs, hidden=None):
        if inputs.dim() != 3:
            raise ValueError(f"expected batched 3-D input, got {inputs.dim()}-D")
        if self.first_batch:
            inputs = inputs.transpose(0, 1)
        batch = inputs.shape[1]
        new = inputs.new_zeros(self.layers_size, batch, self.hidden_size)
        hidden = list(new if hidden is None else hidden)
        outputs = []
        for x in inputs:
            for k in range(self.layers_size):
                x = torch.tanh(x @ self.w_in[k].T + hidden[k] @ self.w_hh[k].T + self.bh[k])
                hidden[k] = x
            outputs.append(x)
        out = torch.stack(outputs)
        return (out.transpose(0, 1) if self.first_batch else out), torch.stack(hidden)


class SwappedWeights(Notebook):
    """A bug the mapping must not hide: ``w_in`` used on the hidden state and ``w_hh`` on the
    input (same shapes when input_size == hidden_size)."""

    def forward(self, inputs, hidden=None):
        self.w_in, self.w_hh = self.w_hh, self.w_in
        try:
            return super().forward(inputs, hidden)
        finally:
            self.w_in, self.w_hh = self.w_hh, self.w_in


def test_the_notebook_constructor_binds_by_name_and_alias_and_holds_the_rest():
    binding = bind(Notebook, RNN.arguments, DEFAULTS)
    assert binding.keywords == {
        "input_size": "input_size",
        "hidden_size": "hidden_size",
        "num_layers": "layers_size",
        "batch_first": "first_batch",
    }
    assert binding.held == {
        k: DEFAULTS[k] for k in ("nonlinearity", "bias", "dropout", "bidirectional")
    }
    assert binding.moved  # no device / dtype: built, then moved
    assert (
        binding.call(
            Notebook,
            {"input_size": 3, "hidden_size": 4, "num_layers": 2, "batch_first": True},
            {"device": "cpu", "dtype": torch.float64},
        )
        .w_in[0]
        .dtype
        == torch.float64
    )


def test_the_first_two_bind_by_position_a_third_never():
    class Sizes(nn.Module):
        def __init__(self, n_in, n_hid, output_size):
            super().__init__()

    with pytest.raises(
        ValueError,
        match="Sizes's parameter 'output_size' takes none of torch's arguments .*: bind it with "
        "--arg ARGUMENT=output_size",
    ):
        bind(Sizes, RNN.arguments, DEFAULTS)
    binding = bind(Sizes, RNN.arguments, DEFAULTS, {"num_layers": "output_size"})
    assert binding.keywords == {
        "input_size": "n_in",
        "hidden_size": "n_hid",
        "num_layers": "output_size",
    }
    assert binding.positional == ("input_size", "hidden_size")


def test_a_class_with_torchs_constructor_is_called_as_it_is():
    binding = bind(nn.RNN, RNN.arguments, DEFAULTS)
    assert binding.open and not binding.held and not binding.moved


def test_a_fixed_argument_the_class_cannot_take_names_the_fix():
    implementation = load_implementation("tests.test_binding:Notebook")
    with pytest.raises(Exception, match="takes no bidirectional: it is held at False"):
        implementation.fixed_arguments({"bidirectional": True})


class AlwaysBatchFirst(nn.Module):
    """A correct one-layer Elman RNN that reads ``(batch, time, features)`` and takes no
    ``batch_first``."""

    def __init__(self, n_in, n_hidden):
        super().__init__()
        self.inp, self.rec = nn.Linear(n_in, n_hidden), nn.Linear(n_hidden, n_hidden)

    def forward(self, x, h0=None):
        h = x.new_zeros(x.shape[0], self.rec.in_features) if h0 is None else h0[0]
        steps = []
        for t in range(x.shape[1]):
            h = torch.tanh(self.inp(x[:, t]) + self.rec(h))
            steps.append(h)
        return torch.stack(steps, 1), h.unsqueeze(0)


@pytest.mark.parametrize("fix, fails", [([], True), (["batch_first=true"], False)])
def test_fixing_an_argument_the_class_does_not_take_declares_how_it_behaves(fix, fails):
    """``--fix batch_first=true`` on a class that takes no batch_first: it is held there
    (its input is batch-first), and its binding says so; unfixed, it is fed time-major."""
    session = Session.from_options(
        impl="tests.test_binding:AlwaysBatchFirst",
        properties=["output_close"],
        dtypes=["float64"],
        devices=["cpu"],
        layouts=["batched"],
        fix=fix,
    )
    implementation = session.implementations[0]
    assert implementation.binding.held["batch_first"] is (not fails)
    verification = session.verify(session.live_runs()[0], without_shrinking(CI_PROFILE))
    assert verification.failed is fails, verification.headline


class Transposed(nn.Module):
    """Weights stored as ``x @ W``: ``(input, hidden)``, not torch's ``(hidden, input)``."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.wx = nn.Parameter(torch.randn(input_size, hidden_size))
        self.wh = nn.Parameter(torch.randn(hidden_size, hidden_size))

    def forward(self, x, h0=None):
        raise AssertionError("never run: its weights cannot be mapped")


def test_a_transposed_weight_is_named_so_with_its_way_out_once():
    from rnn_impl.testing.cases import InputCase
    from rnn_impl.testing.oracle import build_pair

    implementation = load_implementation("tests.test_binding:Transposed")
    config = ModuleConfig(3, 4, bias=False)
    with pytest.raises(Exception) as raised:
        build_pair(implementation, config, InputCase())
    message = str(raised.value)
    assert "wx has shape (3, 4), weight_ih_l0 (4, 3): stored transposed (used as x @ W)?" in message
    assert message.count("write an Adapter") == 1 and "narrow the run" not in message


def test_a_one_layer_class_gets_gradcheck_not_the_chain_of_layers():
    """A property that draws an argument the class holds runs where it covers the held value
    (gradcheck draws 1 to 3 layers), and is not applicable where it does not (the chain law
    needs two)."""
    session = Session.from_options(
        impl="tests.test_binding:AlwaysBatchFirst",
        properties=["gradcheck", "layers_are_a_chain"],
        dtypes=["float64"],
        devices=["cpu"],
        layouts=["batched"],
        fix=["batch_first=true"],
    )
    skips = {run.prop.name: run.skip for run in session.runs()}
    name = "tests.test_binding:AlwaysBatchFirst"
    assert skips == {
        "gradcheck": None,
        "layers_are_a_chain": f"not applicable: {name} takes no num_layers",
    }
    verification = session.verify(session.live_runs()[0], without_shrinking(CI_PROFILE))
    assert not verification.failed and verification.examples > 0, verification.headline


def test_what_the_class_cannot_take_is_not_applicable_never_failed():
    session = Session.from_options(
        impl="tests.test_binding:Notebook",
        properties=["dropout_eval", "output_close"],
        dtypes=["float64"],
        devices=["cpu"],
    )
    skips = {run.prop.name: run.skip for run in session.runs()}
    assert skips == {
        "output_close": None,
        "dropout_eval": "not applicable: tests.test_binding:Notebook takes no dropout",
    }


@pytest.mark.parametrize("config", [ModuleConfig(3, 4, 2), ModuleConfig(4, 4, 3, batch_first=True)])
def test_the_notebook_weights_map_without_an_adapter(config):
    implementation = load_implementation("tests.test_binding:Notebook")
    reference = nn.RNN(**config.kwargs())
    impl = implementation.build(config, "cpu", torch.float32)
    with torch.no_grad():
        Adapter().load(impl, reference)
    assert torch.equal(impl.bh[1], reference.bias_ih_l1 + reference.bias_hh_l1)
    named = Adapter().named_parameters(impl)
    assert named["bias_ih_l0"] is named["bias_hh_l0"] is impl.bh[0]
    assert named["weight_hh_l1"] is impl.w_hh[1]


def test_nn_linear_layers_and_directions_map_by_index():
    shapes = {}
    for k in range(4):  # 2 layers x 2 directions, index 2 * layer + direction
        width = 3 if k < 2 else 10
        shapes |= {f"ih.{k}.weight": (5, width), f"ih.{k}.bias": (5,)}
        shapes |= {f"hh.{k}.weight": (5, 5), f"hh.{k}.bias": (5,)}
    torch_shapes = {
        n: tuple(p.shape) for n, p in nn.RNN(3, 5, 2, bidirectional=True).named_parameters()
    }
    plan = map_parameters(shapes, torch_shapes, gru=False)
    assert plan["ih.3.weight"] == ("weight_ih_l1_reverse",)
    assert plan["hh.2.bias"] == ("bias_hh_l1",)


def test_one_bias_per_layer_cannot_hold_a_grus_and_says_so():
    torch_shapes = {n: tuple(p.shape) for n, p in nn.GRU(3, 4).named_parameters()}
    with pytest.raises(MappingError, match="cannot hold a GRU's b_ih and b_hh"):
        map_parameters({"w_x": (12, 3), "w_h": (12, 4), "b": (12,)}, torch_shapes, gru=True)


def test_an_ambiguous_case_names_the_way_out():
    torch_shapes = {n: tuple(p.shape) for n, p in nn.RNN(3, 4, 2).named_parameters()}
    with pytest.raises(MappingError, match="no layer number in its name.*--adapter"):
        map_parameters(
            {"a": (4, 3), "b": (4, 4), "c": (4, 4), "d": (4, 4)}, torch_shapes, gru=False
        )


@pytest.mark.parametrize(
    "module, gru, hint",
    [
        (nn.RNN(3, 4), False, "one per gate of an nn.GRU? --kind gru"),
        (nn.GRU(3, 4), True, "3 gate blocks each, kept apart? its Adapter's named_parameters"),
        (
            nn.LSTM(3, 4),
            False,
            "kept apart? its Adapter's named_parameters gives each torch weight as the list of them in torch's gate order (i, f, g, o)",
        ),
    ],
    ids=["rnn", "gru", "lstm"],
)
def test_one_matrix_per_gate_names_its_way_out(module, gru, hint):
    """A weight per gate and side (the tutorial layout) maps by no name and shape; the error
    says what the count suggests."""
    torch_shapes = {n: tuple(p.shape) for n, p in module.named_parameters()}
    gates = 4 if isinstance(module, nn.LSTM) else 3
    theirs = {f"x{k}.weight": (4, 3) for k in range(gates)}
    theirs |= {f"h{k}.weight": (4, 4) for k in range(gates)}
    with pytest.raises(MappingError, match=re.escape(hint)):
        map_parameters(theirs, torch_shapes, gru=gru)


def test_a_swapped_weight_bug_is_not_hidden_by_the_mapping():
    implementation = load_implementation("tests.test_binding:SwappedWeights")
    session = Session((implementation,), (BY_NAME["output_close"],), ("cpu",), ("float64",))
    verification = session.verify(session.runs()[0], without_shrinking(CI_PROFILE))
    assert verification.failed


def _output_close_batched(name: str, dtype: str):
    """output_close on batched input in ``dtype`` on the CPU, for a class of this module."""
    session = Session.from_options(
        impl=f"tests.test_binding:{name}",
        properties=["output_close"],
        dtypes=[dtype],
        devices=["cpu"],
        layouts=["batched"],
    )
    return session.verify(session.live_runs()[0], without_shrinking(CI_PROFILE))


def test_the_corrected_notebook_passes_output_close():
    implementation = load_implementation("tests.test_binding:Notebook")
    assert isinstance(implementation, Implementation) and implementation.kind is RNN
    verification = _output_close_batched("Notebook", "float64")
    assert not verification.failed, verification.headline
    assert GRU is not RNN


class Float32State(Notebook):
    """A bug, not an unsupported input: its zero state is float32 whatever the input's dtype
    (as the seed notebook's is); with h0 given it runs."""

    def forward(self, inputs, hidden=None):
        if hidden is None:
            hidden = torch.zeros(self.layers_size, inputs.shape[1], self.hidden_size)
        return super().forward(inputs, hidden)


def test_a_layout_is_unsupported_only_when_every_probe_raises():
    from rnn_impl.testing.probe import Probe, unsupported_layouts

    notebook = load_implementation("tests.test_binding:Notebook")
    assert set(unsupported_layouts(Probe(notebook, {}))) == {
        "unbatched",
        "packed_sorted",
        "packed_unsorted",
    }
    assert unsupported_layouts(Probe(load_implementation("torch.nn:RNN"), {})) == {}
    # float16 input and a float32 state raise without h0, not with it: batched stays in
    assert "batched" not in unsupported_layouts(
        Probe(load_implementation("tests.test_binding:Float32State"), {})
    )


def test_a_digit_between_letters_is_part_of_a_name_not_a_layer_number():
    shapes = {}
    for k in range(2):
        shapes |= {f"in2hid.{k}.weight": (5, 3 if k == 0 else 5), f"in2hid.{k}.bias": (5,)}
        shapes |= {f"hid2hid.{k}.weight": (5, 5), f"hid2hid.{k}.bias": (5,)}
    torch_shapes = {n: tuple(p.shape) for n, p in nn.RNN(3, 5, 2).named_parameters()}
    plan = map_parameters(shapes, torch_shapes, gru=False)
    assert plan["in2hid.1.weight"] == ("weight_ih_l1",)
    assert plan["hid2hid.1.bias"] == ("bias_hh_l1",)


def _torch_shapes(layers: int, bidirectional: bool, bias: bool = True) -> dict:
    module = nn.RNN(3, 5, layers, bias=bias, bidirectional=bidirectional)
    return {n: tuple(p.shape) for n, p in module.named_parameters()}


def _written_plan(plan, layers: int, directions: int):
    namespace: dict = {}
    exec(adapter_source("rnn-verify --impl m:C --adapter m_adapter:Adapter", plan), namespace)
    return namespace["plan"](layers, directions)


@pytest.mark.parametrize(
    "name",
    [
        lambda layer, direction: f"cells.{2 * layer + direction}.ih.weight",
        lambda layer, direction: f"w_ih{'_reverse' if direction else ''}_l{layer}",
    ],
    ids=["index", "reverse-word"],
)
def test_a_written_adapter_states_the_mapping_for_every_depth(name):
    """--write-adapter writes the mapping found on 2 bidirectional layers as a loop: for 2
    layers it is that mapping, and for 3 it goes on by the same rule."""

    def shapes(layers):
        found = {}
        for layer in range(layers):
            for direction in range(2):
                width = 3 if layer == 0 else 10
                hh = name(layer, direction).replace("ih", "hh")
                found |= {name(layer, direction): (5, width), hh: (5, 5)}
        return found

    small, deep = (
        map_parameters(shapes(n), _torch_shapes(n, True, bias=False), gru=False) for n in (2, 3)
    )
    assert _written_plan(small, 2, 2) == small
    assert _written_plan(small, 3, 2) == deep


def test_a_written_adapter_for_one_direction_and_a_joined_bias():
    plan = map_parameters(
        {"w_in.0": (5, 3), "w_hh.0": (5, 5), "bh.0": (5,)}, _torch_shapes(1, False), gru=False
    )
    assert _written_plan(plan, 2, 1) == {
        **plan,
        "w_in.1": ("weight_ih_l1",),
        "w_hh.1": ("weight_hh_l1",),
        "bh.1": ("bias_ih_l1", "bias_hh_l1"),
    }


def _per_gate_shapes(style: str, gates: str, inputs: int, hidden: int, layers: int = 1):
    """A weight per gate and side, named as tutorials name them."""
    found = {}
    for layer in range(layers):
        width = inputs if layer == 0 else hidden
        for gate in gates:
            if style == "torch-docs":  # W_ir, W_hr, b_ir, b_hr
                found |= {f"W_i{gate}": (hidden, width), f"W_h{gate}": (hidden, hidden)}
                found |= {f"b_i{gate}": (hidden,), f"b_h{gate}": (hidden,)}
            elif style == "linear":  # nn.Linear per gate and side, in ModuleLists
                found |= {f"h_{gate}.{layer}.weight": (hidden, hidden)}  # declared first
                found |= {f"x_{gate}.{layer}.weight": (hidden, width)}
                found |= {f"x_{gate}.{layer}.bias": (hidden,), f"h_{gate}.{layer}.bias": (hidden,)}
            else:  # d2l: W_xi, W_hi, one bias b_i per gate, the candidate c
                letter = "c" if gate == "g" else gate
                found |= {f"W_x{letter}": (hidden, width), f"W_h{letter}": (hidden, hidden)}
                found |= {f"b_{letter}": (hidden,)}
    return found


@pytest.mark.parametrize(
    "style, module, expected",
    [
        ("torch-docs", nn.GRU(4, 4), {"W_hn": ("weight_hh_l0[n]",), "b_ir": ("bias_ih_l0[r]",)}),
        (
            "linear",
            nn.GRU(3, 4, 2),
            {"h_z.1.weight": ("weight_hh_l1[z]",), "x_n.0.bias": ("bias_ih_l0[n]",)},
        ),
        (
            "d2l",
            nn.LSTM(4, 4),
            {"W_xc": ("weight_ih_l0[g]",), "b_f": ("bias_ih_l0[f]", "bias_hh_l0[f]")},
        ),
    ],
    ids=["torch-docs", "linear", "d2l"],
)
def test_a_weight_per_gate_and_side_maps_by_the_gate_in_its_name(style, module, expected):
    gates = "ifgo" if isinstance(module, nn.LSTM) else "rzn"
    inputs, hidden = module.input_size, module.hidden_size
    theirs = _per_gate_shapes(style, gates, inputs, hidden, module.num_layers)
    torch_shapes = {n: tuple(p.shape) for n, p in module.named_parameters()}
    plan = map_parameters(theirs, torch_shapes, gru=isinstance(module, nn.GRU))
    assert plan.keys() == theirs.keys() and expected.items() <= plan.items()
    written = _written_plan(plan, module.num_layers, 1)
    assert written == plan


def test_a_grus_biases_joined_but_the_new_gates_map_so():
    theirs = _per_gate_shapes("torch-docs", "rzn", 3, 4)
    theirs = {n: s for n, s in theirs.items() if n not in ("b_hr", "b_hz")}
    torch_shapes = {n: tuple(p.shape) for n, p in nn.GRU(3, 4).named_parameters()}
    plan = map_parameters(theirs, torch_shapes, gru=True)
    assert plan["b_ir"] == ("bias_ih_l0[r]", "bias_hh_l0[r]")
    assert (plan["b_in"], plan["b_hn"]) == (("bias_ih_l0[n]",), ("bias_hh_l0[n]",))


def test_a_grus_one_bias_for_the_new_gate_is_reported_not_mapped():
    theirs = _per_gate_shapes("torch-docs", "rzn", 3, 4)
    theirs = {n: s for n, s in theirs.items() if n not in ("b_hn", "b_hr", "b_hz")}
    torch_shapes = {n: tuple(p.shape) for n, p in nn.GRU(3, 4).named_parameters()}
    with pytest.raises(MappingError, match="cannot hold a GRU's b_in and b_hn"):
        map_parameters(theirs, torch_shapes, gru=True)


class PerGateGRU(nn.Module):
    """A GRU as the equations read, an nn.Linear per gate and side (the recurrent side first)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        for gate in "rzn":
            setattr(self, f"h_{gate}", nn.Linear(hidden_size, hidden_size))
            setattr(self, f"x_{gate}", nn.Linear(input_size, hidden_size))

    def forward(self, x, h=None):
        h = x.new_zeros(x.shape[1], self.h_r.in_features) if h is None else h[0]
        out = []
        for x_t in x:
            r = torch.sigmoid(self.x_r(x_t) + self.h_r(h))
            z = torch.sigmoid(self.x_z(x_t) + self.h_z(h))
            n = torch.tanh(self.x_n(x_t) + r * self.h_n(h))
            h = (1 - z) * n + z * h
            out.append(h)
        return torch.stack(out), h[None]


class PerGateGRUSwapped(PerGateGRU):
    """Its reset gate computed with the update gate's weights and the other way round."""

    def forward(self, x, h=None):
        self.x_r, self.x_z, self.h_r, self.h_z = self.x_z, self.x_r, self.h_z, self.h_r
        try:
            return super().forward(x, h)
        finally:
            self.x_r, self.x_z, self.h_r, self.h_z = self.x_z, self.x_r, self.h_z, self.h_r


def test_a_gate_mixup_in_a_per_gate_class_points_at_the_names_not_a_flag():
    from rnn_impl.testing.cases import InputCase
    from rnn_impl.testing.localise import describe
    from rnn_impl.testing.strategies import Example

    session = Session.from_options(impl="tests.test_binding:PerGateGRUSwapped", kind="gru")
    example = Example(ModuleConfig(3, 4, family="gru"), InputCase(), "cpu", torch.float64)
    departs = "\n".join(
        describe(BY_NAME["output_close"], session.implementations[0], example)["departs"]
    )
    assert "reordered to (z, r, n)" in departs and "the gates its parameters' names give" in departs
    assert "--gate-order" not in departs


def test_a_per_gate_class_gets_torchs_weights_and_gives_them_back():
    torch.manual_seed(0)
    reference, impl = nn.GRU(3, 5).double(), PerGateGRU(3, 5).double()
    with torch.no_grad():
        Adapter().load(impl, reference)
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(impl(x), reference(x))
    named = Adapter().named_parameters(impl)
    for name, value in reference.named_parameters():
        assert torch.equal(torch.cat(list(named[name])), value), name
    assert named["weight_hh_l0"][1] is impl.h_z.weight


class NoHalf(Notebook):
    """Refuses half precision outright: float16 and bfloat16 are unsupported, not failed."""

    def forward(self, inputs, hidden=None):
        if inputs.dtype in (torch.float16, torch.bfloat16):
            raise TypeError("half precision is not supported")
        return super().forward(inputs, hidden)


class MetaState(Notebook):
    """A bug: its zero state is made on the meta device, whatever the input's device."""

    def forward(self, inputs, hidden=None):
        if hidden is None:
            hidden = torch.zeros(self.layers_size, inputs.shape[1], self.hidden_size, device="meta")
        return super().forward(inputs, hidden)


def test_a_dtype_is_unsupported_only_when_every_probe_raises():
    from rnn_impl.testing.probe import Probe, unsupported_dtypes

    refused = unsupported_dtypes(
        Probe(load_implementation("tests.test_binding:NoHalf"), {}), ("batched",)
    )
    assert set(refused) == {"float16", "bfloat16"}
    assert "half precision is not supported" in refused["float16"]
    # a state made in float32 or on the wrong device raises without h0, not with it: a bug
    for bug in ("Float32State", "MetaState"):
        assert unsupported_dtypes(Probe(load_implementation(f"tests.test_binding:{bug}"), {})) == {}


def test_a_state_on_the_wrong_device_is_a_failure_not_unsupported():
    from rnn_impl.testing.probe import Probe, unsupported_layouts

    implementation = load_implementation("tests.test_binding:MetaState")
    assert "batched" not in unsupported_layouts(Probe(implementation, {}))
    assert _output_close_batched("MetaState", "float32").failed


def test_a_probed_session_skips_the_runs_of_an_unsupported_dtype_with_the_error():
    session = Session.from_options(
        impl="tests.test_binding:NoHalf", properties=["output_close"], devices=["cpu"]
    ).probed()
    assert set(session.left_out()) == {
        "unbatched input",
        "packed_sorted input",
        "packed_unsorted input",
        "float16",
        "bfloat16",
    }
    assert session.layouts == ("batched",)
    skips = {run.id: run.skip for run in session.runs()}
    assert skips["output_close-cpu-float32"] is None
    assert skips["output_close-cpu-float16"].startswith(
        "unsupported: float16 (every probe raised TypeError: half precision is not supported"
    )


class NoState(Notebook):
    """The notebook's commonest form: ``forward(x)``, every run from a zero state."""

    def forward(self, inputs):
        return super().forward(inputs)


class StateIgnored(Notebook):
    """A bug, not an unsupported state: it takes h0 and ignores it."""

    def forward(self, inputs, hidden=None):
        return super().forward(inputs)


def test_an_initial_state_is_unsupported_only_when_every_probe_with_one_raises():
    from rnn_impl.testing.probe import INITIAL_STATE, Probe, unsupported_state

    refused = unsupported_state(
        Probe(load_implementation("tests.test_binding:NoState"), {}), ("batched",)
    )
    assert list(refused) == [INITIAL_STATE] and "TypeError" in refused[INITIAL_STATE]
    for taken in ("Notebook", "StateIgnored", "MetaState"):
        assert (
            unsupported_state(Probe(load_implementation(f"tests.test_binding:{taken}"), {})) == {}
        )


def test_a_class_without_h0_is_verified_without_one_and_streaming_is_not_applicable():
    session = Session.from_options(
        impl="tests.test_binding:NoState",
        properties=["output_close", "gradients", "layers_are_a_chain", "streaming"],
        devices=["cpu"],
        dtypes=["float64"],
    ).probed()
    assert "initial state" in session.left_out()
    assert not session.implementations[0].takes_state
    skips = {run.prop.name: run.skip for run in session.runs()}
    assert skips["streaming"] == "not applicable: tests.test_binding:NoState takes no initial state"
    for run in session.live_runs():
        verification = session.verify(run, without_shrinking(CI_PROFILE))
        assert not verification.failed, verification.headline
        assert verification.examples > 1 and not verification.last.case.with_h0
    # a class that takes h0 and ignores it is run with one, and fails
    buggy = Session.from_options(
        impl="tests.test_binding:StateIgnored", properties=["streaming"], layouts=["batched"]
    ).probed()
    assert buggy.unsupported == {}
    assert buggy.verify(buggy.live_runs()[0], without_shrinking(CI_PROFILE)).failed


class LinearCell(nn.Module):
    """A hand-written cell: nn.Linear layers, no device or dtype arguments."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.x2h = nn.Linear(input_size, hidden_size)
        self.h2h = nn.Linear(hidden_size, hidden_size)

    def forward(self, x, h=None):
        if h is None:
            h = x.new_zeros(*x.shape[:-1], self.hidden_size)
        return torch.tanh(self.x2h(x) + self.h2h(h))


def test_a_cell_is_bound_and_mapped_like_a_recurrent_module():
    from rnn_impl.testing.kinds import KINDS

    implementation = load_implementation("tests.test_binding:LinearCell", kind=KINDS["rnn_cell"])
    assert implementation.binding.moved
    assert implementation.binding.held == {"bias": True, "nonlinearity": "tanh"}
    session = Session((implementation,), (BY_NAME["cell_output_close"],))
    verification = session.verify(session.home_runs()[0], without_shrinking(CI_PROFILE))
    assert not verification.failed, verification.headline
    plan = map_parameters(
        {"x2h.weight": (4, 3), "x2h.bias": (4,), "h2h.weight": (4, 4), "h2h.bias": (4,)},
        {"weight_ih": (4, 3), "weight_hh": (4, 4), "bias_ih": (4,), "bias_hh": (4,)},
        gru=False,
    )
    assert plan == {
        "x2h.weight": ("weight_ih",),
        "h2h.weight": ("weight_hh",),
        "x2h.bias": ("bias_ih",),
        "h2h.bias": ("bias_hh",),
    }


class StackedIFOG(TextbookLSTM):
    """An LSTM that stacks its gate blocks i, f, o, g (as many ports do), torch's names."""

    def step(self, x, state, w):
        h, c = state
        total = x @ w["w_ih"].T + h @ w["w_hh"].T
        if w["b_ih"] is not None:
            total = total + w["b_ih"] + w["b_hh"]
        i, f, o, g = total.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return (h if w["w_hr"] is None else h @ w["w_hr"].T), c


@pytest.mark.parametrize("gate_order, holds", [(None, False), ("ifog", True)])
def test_a_gate_order_loads_the_blocks_so_and_compares_in_torchs(gate_order, holds):
    session = Session.from_options(
        impl="tests.test_binding:StackedIFOG",
        properties=["output_close", "gradients"],
        dtypes=["float64"],
        devices=["cpu"],
        layouts=["batched"],
        gate_order=gate_order,
    )
    few = without_shrinking(settings(CI_PROFILE, max_examples=5))
    failed = [session.verify(run, few).failed for run in session.runs()]
    assert failed == [not holds, not holds]


@pytest.mark.parametrize(
    "order, message",
    [
        ("ifgx", "--gate-order ifgx: give each of nn.LSTM's gates i, f, g, o once"),
        ("ifog", None),
    ],
)
def test_a_gate_order_must_name_each_gate_once(order, message):
    from rnn_impl.testing.session import SelectionError

    if message is None:
        Session.from_options(impl="tests.test_binding:StackedIFOG", gate_order=order)
        return
    with pytest.raises(SelectionError, match=message):
        Session.from_options(impl="tests.test_binding:StackedIFOG", gate_order=order)


class GateLinearsGRU(nn.Module):
    """A tutorial GRU, one nn.Linear per gate and side, its own constructor (6 matrices where
    torch has 2), each named by its gate: mapped without an adapter."""

    GATES = ("reset", "update", "cand")

    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.n_hidden = n_hidden
        for gate in self.GATES:
            setattr(self, f"x_{gate}", nn.Linear(n_inputs, n_hidden))
            setattr(self, f"h_{gate}", nn.Linear(n_hidden, n_hidden))

    def forward(self, inputs, h=None):
        h = inputs.new_zeros(inputs.shape[1], self.n_hidden) if h is None else h[0]
        (x_r, x_z, x_n), (h_r, h_z, h_n) = (
            [getattr(self, f"{side}_{g}") for g in self.GATES] for side in "xh"
        )
        outputs = []
        for x in inputs:
            r = torch.sigmoid(h_r(h) + x_r(x))
            z = torch.sigmoid(h_z(h) + x_z(x))
            n = torch.tanh(x_n(x) + r * h_n(h))
            h = n + z * (h - n)
            outputs.append(h)
        return torch.stack(outputs), h.unsqueeze(0)


class UnnamedGatesGRU(GateLinearsGRU):
    """The same, its gates unnamed: the layout no mapping from names and shapes reaches."""

    GATES = ("first", "second", "third")


class GateLinearsAdapter(Adapter):
    """torch's stacked GRU weights onto one nn.Linear per gate: each torch parameter is the
    list of its gates' pieces, in torch's order r, z, n."""

    def pieces(self, impl):
        return {
            f"{kind}_{side}_l0": [getattr(getattr(impl, f"{prefix}_{g}"), kind) for g in impl.GATES]
            for kind in ("weight", "bias")
            for side, prefix in (("ih", "x"), ("hh", "h"))
        }

    def load(self, impl, reference):
        for name, pieces in self.pieces(impl).items():
            for piece, value in zip(pieces, getattr(reference, name).chunk(3)):
                piece.copy_(value)

    def named_parameters(self, impl):
        return self.pieces(impl)


class JoinedAdapter(GateLinearsAdapter):
    """The adapter a user writes first: torch's names onto ``torch.cat`` of the pieces, a
    tensor forward never uses."""

    def named_parameters(self, impl):
        return {name: torch.cat(pieces) for name, pieces in self.pieces(impl).items()}


def _gate_linears(adapter: str, properties: list[str]) -> Session:
    return Session.from_options(
        impl="tests.test_binding:GateLinearsGRU",
        adapter=f"tests.test_binding:{adapter}",
        kind="gru",
        properties=properties,
        devices=["cpu"],
        layouts=["batched"],
        fix=["num_layers=1", "bias=true"],
    )


def test_a_parameter_kept_in_pieces_is_named_by_the_list_of_them():
    """A GRU with one nn.Linear per gate (a helper's first try, rejected before: its adapter
    could only name torch's weight by a ``torch.cat``): its adapter names each torch
    parameter by its gates' pieces, whose gradients are stacked as torch's rows."""
    session = _gate_linears("GateLinearsAdapter", ["gradients"])
    runs = session.live_runs()
    assert {str(run.dtype) for run in runs} == {
        "torch.float16",
        "torch.bfloat16",
        "torch.float32",
        "torch.float64",
    }
    for run in runs:
        verification = session.verify(run, settings(max_examples=10), seed=0, covering=False)
        assert not verification.failed and verification.examples == 10, verification.headline


def test_a_tutorial_gru_with_a_linear_per_gate_needs_no_adapter():
    """What a helper needed 25 lines of adapter for: its gates are in its names."""
    session = Session.from_options(
        impl="tests.test_binding:GateLinearsGRU",
        kind="gru",
        properties=["output_close", "gradients"],
        devices=["cpu"],
        layouts=["batched"],
        fix=["num_layers=1", "bias=true"],
    )
    for run in session.live_runs():
        verification = session.verify(run, settings(max_examples=5), seed=0, covering=False)
        assert not verification.failed and verification.examples == 5, verification.headline


def test_a_gate_order_is_refused_where_the_names_give_the_gates():
    """--gate-order has nothing to reorder where each gate's weight is named (a helper's
    rerun with it was silently ignored)."""
    torch.manual_seed(0)
    with pytest.raises(MappingError, match=r"x_r\.weight <- weight_ih_l0\[r\], \.\.\.\); leave"):
        Adapter(gate_order=(1, 0, 2)).load(PerGateGRU(3, 4), nn.GRU(3, 4))


def test_a_tensor_computed_from_the_parameters_is_refused_with_its_way_out():
    """Named by ``torch.cat`` of the pieces, a weight's gradient was taken as zero and
    ``gradients`` failed a correct GRU "6.89e+05x further"; now the adapter is refused before
    any example, saying what to give instead."""
    from rnn_impl.testing.cases import InputCase
    from rnn_impl.testing.exceptions import ImplementationError
    from rnn_impl.testing.oracle import build_pair

    implementation = _gate_linears("JoinedAdapter", ["gradients"]).implementations[0]
    with pytest.raises(ImplementationError) as raised:
        build_pair(implementation, ModuleConfig(3, 4, family="gru"), InputCase())
    message = str(raised.value)
    assert "names weight_ih_l0 by a tensor computed from" in message
    assert "(CatBackward0)" in message and "as the list of them in torch's gate order" in message


def test_where_no_mapping_follows_write_adapter_writes_a_skeleton(tmp_path, monkeypatch, capsys):
    """--write-adapter on a layout no mapping reaches wrote nothing; it now writes an Adapter
    to fill in, each side's parameters listed with their shapes, valid Python."""
    from tests.test_cli import rnn_verify_here

    root = Path(__file__).resolve().parent.parent
    path = tmp_path / "gates_adapter.py"
    impl = ("--impl", "tests.test_binding:UnnamedGatesGRU", "--kind", "gru")
    run = rnn_verify_here(
        *impl, "--write-adapter", str(path), cwd=root, monkeypatch=monkeypatch, capsys=capsys
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "a skeleton: fill in load and named_parameters" in run.stdout
    source = path.read_text()
    compile(source, str(path), "exec")
    assert "reference.weight_ih_l0  (12, 3)" in source and "impl.x_first.weight  (4, 3)" in source
    assert "in torch's gate order (r, z, n)" in source
