"""Meta-tests of the strategies: the edge regions are reached by the ``ci`` gate, every draw is
a valid nn.RNN call, and drawing is side-effect free.

Hypothesis spends most of a run's examples mutating a few families of earlier ones, so one
strategy's 50 examples are a thin sample; what the gate explores is the union of every
property's own stream, and that is what the region test counts."""

from __future__ import annotations

import os
import subprocess
import sys

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import find, given, settings
from hypothesis.errors import InvalidArgument, NoSuchExample
from torch import nn

import rnn_impl
from rnn_impl.testing import strategies
from rnn_impl.testing.cases import ModuleConfig, make_inputs, parse_fixed
from rnn_impl.testing.oracle import Implementation, build_pair
from rnn_impl.testing.properties import BY_NAME, CATALOGUE
from rnn_impl.testing.runner import verify

REGIONS = {
    "input_size == hidden_size": lambda e: e.config.input_size == e.config.hidden_size,
    "batch == seq_len": lambda e: e.case.batched and e.case.batch == e.case.seq_len > 1,
    "seq_len == 1": lambda e: e.case.seq_len == 1,
    "batch == 1": lambda e: e.case.batched and e.case.batch == 1,
    "batch == 0": lambda e: e.case.batch == 0,
    "num_layers >= 3 and bidirectional": lambda e: (
        e.config.num_layers >= 3 and e.config.bidirectional
    ),
    "unbatched": lambda e: e.case.layout == "unbatched",
    "packed_sorted": lambda e: e.case.layout == "packed_sorted",
    "packed_unsorted": lambda e: e.case.layout == "packed_unsorted",
    "packed lengths with duplicates": lambda e: (
        e.case.packed and len(set(e.case.lengths)) < len(e.case.lengths)
    ),
    "packed lengths not all equal": lambda e: e.case.packed and len(set(e.case.lengths)) > 1,
    "packed lengths out of order": lambda e: (
        e.case.layout == "packed_unsorted"
        and list(e.case.lengths) != sorted(e.case.lengths, reverse=True)
    ),
    "batch_first": lambda e: e.config.batch_first,
    "h0 omitted": lambda e: not e.case.with_h0,
    "h0 given": lambda e: e.case.with_h0,
    "relu": lambda e: e.config.nonlinearity == "relu",
    "bias=False": lambda e: not e.config.bias,
    "weight scale above 1": lambda e: e.case.weight_scale > 1,
}


def collect(strategy, profile="ci"):
    """Every example a strategy yields in one run under ``profile`` (a name or settings)."""
    seen = []
    base = settings.get_profile(profile) if isinstance(profile, str) else profile

    @settings(base, database=None)
    @given(strategy)
    def record(example):
        seen.append(example)

    record()
    return seen


@pytest.fixture(scope="module")
def ci_examples():
    """Every example the ci gate's RNN properties draw (each from its own strategy)."""
    drawn = []
    for prop in CATALOGUE:
        if not prop.cells:
            drawn += collect(prop.strategy(*prop.home))
    return drawn


@pytest.mark.parametrize("region", REGIONS)
def test_each_edge_region_is_reached_under_ci(region, ci_examples):
    hits = sum(REGIONS[region](e) for e in ci_examples)
    assert hits >= 1, f"{region!r} reached 0 times in {len(ci_examples)} ci examples"


DRAWS = {
    "default": {},
    "packed unsorted": {"layout": "packed_unsorted"},
    "unbatched float64": {"layout": "unbatched", "dtype": torch.float64},
    "with dropout": {"configs": strategies.rnn_configs(dropout=st.sampled_from([0.0, 0.5]))},
    "any cpu dtype": {"dtype": strategies.dtypes("cpu")},
}


@pytest.mark.parametrize("name", DRAWS)
def test_every_draw_is_a_valid_nn_rnn_call(name):
    @settings(settings.get_profile("ci"), database=None, max_examples=25)
    @given(strategies.examples(**DRAWS[name]))
    def valid(example):
        case, config = example.case, example.config
        assert case.seq_len >= 1 and case.batch >= 0
        if case.packed:
            assert case.batch >= 1 and all(1 <= n <= case.seq_len for n in case.lengths)
        if case.layout == "packed_sorted":
            assert list(case.lengths) == sorted(case.lengths, reverse=True)
        reference, _ = build_pair(
            Implementation("torch.nn:RNN", nn.RNN), config, case, example.dtype
        )
        with torch.no_grad():
            reference(*make_inputs(config, case, example.dtype).args())

    valid()


@pytest.mark.parametrize("family", ["gru", "lstm"])
def test_every_gated_draw_is_a_valid_call_of_torchs_module(family):
    """nn.GRU and nn.LSTM accept every drawn configuration and input (an LSTM's (h0, c0)
    included); an LSTM projects in some draws, never to its hidden size or beyond."""
    seen = []

    @settings(settings.get_profile("ci"), database=None, max_examples=40)
    @given(strategies.examples(configs=strategies.rnn_configs(family=family)))
    def valid(example):
        config, case = example.config, example.case
        assert config.proj_size < config.hidden_size and (family == "lstm" or not config.proj_size)
        seen.append(config.proj_size)
        implementation = Implementation(
            f"torch.nn:{config.kind.torch_name}", config.kind.torch_class(), kind=config.kind
        )
        reference, _ = build_pair(implementation, config, case, example.dtype)
        with torch.no_grad():
            reference(*make_inputs(config, case, example.dtype).args())

    valid()
    assert any(seen) == (family == "lstm"), seen


def test_size_budget_bounds_the_draws(monkeypatch):
    monkeypatch.setenv(strategies.BUDGET_ENV, "64")
    for e in collect(strategies.examples()):
        c = e.config
        width = max(c.input_size, c.hidden_size) * c.num_layers * c.num_directions
        assert e.case.seq_len * max(e.case.batch, 1) <= max(1, 64 // width) or e.case.seq_len == 1


FIELDS = {
    "seq_len": (lambda e: e.case.seq_len, "seq_len"),
    "batch": (lambda e: e.case.batch, "batch"),
    "input_size": (lambda e: e.config.input_size, "size"),
    "hidden_size": (lambda e: e.config.hidden_size, "size"),
}


@pytest.mark.parametrize("field", FIELDS)
def test_a_far_reach_draws_past_the_near_ends(field):
    """Search campaigns draw further than the gate; the gate's draws stop at the near ends
    (Hypothesis' search for one past them finds none)."""
    value, bound = FIELDS[field]
    past = lambda e: value(e) > getattr(strategies.NEAR, bound)  # noqa: E731
    budget = settings(max_examples=300, database=None, deadline=None)
    search = settings(budget, max_examples=2000)  # it stops at the first example past the end
    far = find(strategies.examples(layout="batched", limits=strategies.FAR), past, settings=search)
    assert value(far) == getattr(strategies.NEAR, bound) + 1  # shrunk to the edge
    with pytest.raises(NoSuchExample):
        find(strategies.examples(layout="batched"), past, settings=budget)


def test_arguments_take_values_or_strategies():
    fixed = collect(strategies.rnn_configs(input_size=3, hidden_size=st.just(5), num_layers=2))
    assert {(c.input_size, c.hidden_size, c.num_layers) for c in fixed} == {(3, 5, 2)}
    cases = collect(strategies.input_cases(fixed[0], layout="unbatched", seq_len=st.integers(4, 4)))
    assert {(c.layout, c.seq_len, c.batch) for c in cases} == {("unbatched", 4, 1)}


def test_low_precision_draws_keep_scales_small():
    for e in collect(strategies.examples(dtype=torch.float16)):
        assert e.case.weight_scale <= 1 and e.case.input_scale <= 1


def test_devices_and_dtypes_are_the_machines():
    assert {"cpu", "meta"} <= set(collect(strategies.devices()))
    assert set(collect(strategies.dtypes("cpu"))) == {
        torch.float32,
        torch.float64,
        torch.float16,
        torch.bfloat16,
    }


def test_properties_leave_the_global_rng_alone():
    before = torch.get_rng_state()
    for name in ("output_close", "dropout_masks_exact", "initialisation", "gradients"):
        prop = BY_NAME[name]
        quick = settings(settings.get_profile("dev"), max_examples=5, database=None)
        verify(prop, Implementation("rnn_impl:RNN", rnn_impl.RNN), "cpu", torch.float32, quick)
    assert torch.equal(torch.get_rng_state(), before)


def test_importing_the_package_initialises_no_cuda_and_no_hypothesis():
    code = (
        "import sys, torch, rnn_impl, rnn_impl.testing, rnn_impl.testing.oracle;"
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported';"
        "import rnn_impl.testing.strategies;"
        "assert not torch.cuda.is_initialized(), 'cuda initialised'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


FIXED = {"num_layers": 1, "bidirectional": False, "nonlinearity": "relu", "bias": False}


@pytest.mark.parametrize(
    "prop",
    [p for p in CATALOGUE if p.skip_reason(*p.home, fixed=FIXED) is None],
    ids=lambda p: p.name,
)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_fixed_arguments_hold_in_every_drawn_config(prop, data):
    example = data.draw(prop.strategy(*prop.home, fixed=FIXED))
    assert {name: getattr(example.config, name) for name in FIXED} == FIXED


def test_properties_that_draw_a_fixed_argument_themselves_are_skipped():
    reasons = {p.name: p.skip_reason(*p.home, fixed={"num_layers": 1}) for p in CATALOGUE}
    skipped = {name: reason for name, reason in reasons.items() if reason is not None}
    # these need several layers; gradcheck draws its own small range of them, one layer among
    # its covering levels, so it runs (at four it would not); the cell properties and
    # reverse_is_flip_forward_flip need exactly one, so they run
    expected = {
        "layers_are_a_chain",
        "dropout_masks_exact",
        "dropout_eval",
        "dropout_extremes",
    }
    assert set(skipped) == expected
    assert all(reason.endswith("draws its own num_layers") for reason in skipped.values())
    gradcheck = next(p for p in CATALOGUE if p.name == "gradcheck")
    assert gradcheck.skip_reason(*gradcheck.home, fixed={"num_layers": 4}) is not None


@pytest.mark.parametrize(
    "items, message",
    [
        (["num_layers"], "fix takes NAME=VALUE"),
        (["size=3"], "unknown argument 'size'"),
        (["bias=1", "bias=0"], "bias given twice"),
        (["num_layers=two"], "'two' is not a valid int"),
        (["bidirectional=maybe"], "'maybe' is not a valid bool"),
        (["nonlinearity=gelu"], "neither tanh nor relu"),
        (["hidden_size=0"], "must be at least 1"),
        (["dropout=0.5"], "only 0"),
    ],
)
def test_parse_fixed_rejects_with_one_line(items, message):
    with pytest.raises(ValueError, match=message) as caught:
        parse_fixed(items)
    assert "\n" not in str(caught.value)


def test_parse_fixed_reads_each_type():
    assert parse_fixed(
        ["input_size=3", "nonlinearity=relu", "batch_first=true", "bias=0", "dropout=0"]
    ) == {
        "input_size": 3,
        "nonlinearity": "relu",
        "batch_first": True,
        "bias": False,
        "dropout": 0.0,
    }


COINCIDENCES = ("batch == seq_len", "seq_len == 1", "batch == 1", "batch == 0")


@pytest.mark.parametrize("region", COINCIDENCES)
def test_each_coincidence_is_a_bounded_share_under_ci(region):
    """Forced coincidences are reached (above) but do not crowd out the rest: each holds for
    well under half of what one strategy draws in a ci run (forced in about one draw in
    three, all four together, on top of what independent draws give by themselves)."""
    drawn = collect(strategies.examples(), settings(settings.get_profile("ci"), max_examples=300))
    share = sum(REGIONS[region](e) for e in drawn) / len(drawn)
    assert share <= 0.4, f"{region!r} in {share:.0%} of {len(drawn)} ci examples"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: strategies.rnn_configs(hidden_size=-1), r"hidden_size must be an int >= 1"),
        (lambda: strategies.rnn_configs(num_layers=True), r"num_layers must be an int >= 1"),
        (lambda: strategies.rnn_configs(nonlinearity="gelu"), r"'tanh' or 'relu'"),
        (lambda: strategies.rnn_configs(dropout=1.5), r"dropout must be a number in \[0, 1\]"),
        (lambda: strategies.rnn_configs(bias="yes"), r"bias must be a bool"),
        (lambda: strategies.input_cases(ModuleConfig(3, 4), layout="bogus"), r"layout must be one"),
        (lambda: strategies.input_cases({"input_size": 3}), r"config must be an ModuleConfig"),
        (lambda: strategies.input_cases(ModuleConfig(3, 4), seq_len=0), r"seq_len must be an int"),
        (
            lambda: strategies.input_cases(ModuleConfig(3, 4), batch=-1),
            r"batch must be an int >= 0",
        ),
        (lambda: strategies.examples(dtype="float32"), r"a floating torch.dtype"),
        (lambda: strategies.examples(device="tpu"), r"device must be one of"),
        (lambda: strategies.examples(configs=ModuleConfig(3, 4)), r"st.just\(config\)"),
        (lambda: strategies.sizes(min_value=0), r"min_value must be an int >= 1"),
        (lambda: strategies.input_cases(ModuleConfig(3, 4), limits=(64, 9, 9)), r"strategies.FAR"),
        (lambda: strategies.examples(limits="far"), r"limits must be a SizeLimits"),
        (lambda: strategies.SizeLimits(64, 0, 32), r"seq_len must be an int >= 1"),
        (lambda: strategies.sizes(min_value=4, max_value=2), r"max_value must be an int >= min"),
        (lambda: strategies.rnn_configs(family="elman"), r"expected one of 'rnn', 'gru', 'lstm'"),
        (lambda: strategies.rnn_configs(family="gru", proj_size=2), r"only nn.LSTM has it"),
        (
            lambda: strategies.rnn_configs(family="lstm", proj_size=4, hidden_size=4),
            r"proj_size must be below hidden_size",
        ),
        (lambda: strategies.rnn_configs(family="gru", nonlinearity="relu"), r"must be 'tanh'"),
    ],
)
def test_bad_arguments_are_rejected_with_the_fix_stated(make, message):
    """As Hypothesis' and xarray's strategies do: at the call, not at the first draw."""
    with pytest.raises(InvalidArgument, match=message):
        make()


def test_the_docstring_examples_run():
    """The strategies' and covering arrays' ``Example::`` blocks are doctests."""
    import doctest
    import warnings

    from hypothesis.errors import NonInteractiveExampleWarning

    from rnn_impl.testing import covering

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        for module in (strategies, covering):
            failed, tried = doctest.testmod(
                module, extraglobs={"ModuleConfig": ModuleConfig, "torch": torch, "st": st}
            )
            assert tried > 0 and failed == 0, module.__name__


@given(strategies.rnn_configs(family="gru"))
def test_gru_configurations_build_nn_gru(config):
    """A GRU's configuration passes no nonlinearity, and torch builds it."""
    assert config.family == "gru" and "nonlinearity" not in config.kwargs()
    assert str(config).startswith("GRU(")
    assert isinstance(config.kind.torch_class()(**config.kwargs()), torch.nn.GRU)
