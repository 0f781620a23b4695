"""A zoo of planted RNN / GRU / LSTM / cell bugs that the property catalogue must catch.

Each :class:`Bug` names the property designed to catch it (``caught_by``); the kill-matrix
test verifies that claim at run time, and ``python -m rnn_impl.testing.zoo`` writes the full
bug x property matrix (docs/kill-matrix.md is that command's output).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

import rnn_impl
from rnn_impl.testing.kinds import detect
from rnn_impl.testing.oracle import Adapter, Implementation
from rnn_impl.testing.properties import CATALOGUE, Property
from rnn_impl.testing.session import Session
from rnn_impl.testing.zoo import bugs, cells, escapes, foreign, gru, lstm, workflows
from rnn_impl.testing.zoo._hooked import HookedRNN
from rnn_impl.testing.zoo.controls import StepByStepRNN
from rnn_impl.testing.zoo.notebook import (
    NotebookAdapter,
    notebook_rnn,
    notebook_rnn_stacked_hidden,
)


@dataclass(frozen=True)
class Bug:
    """A planted bug: the implementation, the property meant to catch it, and an adapter;
    for a correct implementation, ``xfail``: the properties it fails by design, each with
    the reason (as scikit-learn's estimator checks list expected failures)."""

    factory: Callable[..., nn.Module]
    caught_by: str
    adapter: Adapter = field(default_factory=Adapter)
    name: str = ""
    xfail: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        return self.name or getattr(self.factory, "__name__", str(self.factory))

    @property
    def mistake(self) -> str:
        doc = (self.factory.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(line.strip() for line in doc.splitlines())

    @property
    def spec(self) -> str:
        return _spec(self.factory)

    def implementation(self) -> Implementation:
        """The bug as an implementation under test (its kind detected)."""
        adapter = None if type(self.adapter) is Adapter else _spec(type(self.adapter))
        return Implementation(self.spec, self.factory, self.adapter, detect(self.factory), adapter)

    def session(self, *props: Property) -> Session:
        """A session that verifies the bug with ``props`` (by default every property of its
        shape), probed as ``rnn-verify`` probes it (:meth:`Session.probed`), once per bug."""
        kind = self._probed.implementations[0].kind
        chosen = props or tuple(p for p in CATALOGUE if p.verifies(kind))
        return replace(self._probed, properties=chosen)

    @functools.cached_property
    def _probed(self) -> Session:
        return Session((self.implementation(),), ()).probed()


def _spec(obj: Any) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


NOT_COMPILED = {
    "compiled_close": "Dynamo does not trace torch's RNN, GRU and LSTM "
    "(torch._dynamo.config.allow_rnn is False): it runs them eagerly and compiles nothing"
}
"""What torch's recurrent modules fail by design: the workflows tier's compiled property."""


def _torch(factory: Callable[..., nn.Module], name: str) -> Bug:
    return Bug(factory, "", name=name, xfail=NOT_COMPILED)


SUBTLE: tuple[Bug, ...] = (
    Bug(bugs.MisalignedStepState, "output_exact"),
    Bug(bugs.TruncatedBackward, "gradients"),
    Bug(bugs.LongSequenceChunks, "output_exact"),
    Bug(bugs.WideLayerBlocked, "output_exact"),
    Bug(bugs.ReverseDeepStateDropped, "output_close"),
    Bug(bugs.TiedPackedLengths, "output_close"),
    Bug(bugs.ReluNoBiasLeaky, "output_close"),
)
"""The zoo's subtle bugs: each shows in only part of the input space, as shipped bugs do."""

ESCAPES: tuple[Bug, ...] = (Bug(escapes.RareRNN, "output_exact"),)
"""Bugs the ``ci`` gate misses by design (not in :data:`ZOO`, whose every bug it catches):
what search campaigns and the regression corpus are for."""

ZOO: tuple[Bug, ...] = (
    Bug(notebook_rnn, "shapes", NotebookAdapter(), name="NotebookMyRNN"),
    Bug(
        notebook_rnn_stacked_hidden, "shapes", NotebookAdapter(), name="NotebookMyRNNStackedHidden"
    ),
    Bug(bugs.H0BatchFirst, "forward_errors"),
    Bug(bugs.ReverseNotFlippedBack, "reverse_is_flip_forward_flip"),
    Bug(bugs.ReverseHnWrongStep, "h_n_is_last_valid_step"),
    Bug(bugs.DropoutOnLastLayer, "dropout_extremes"),
    Bug(bugs.DropoutInEval, "dropout_eval"),
    Bug(bugs.DropoutBatchMajor, "dropout_masks_exact"),
    Bug(bugs.MissingBias, "output_close"),
    Bug(bugs.DoubledBias, "output_exact"),
    Bug(bugs.TransposedInputWeight, "output_close"),
    Bug(bugs.ActivationSwapped, "output_close"),
    Bug(bugs.LayerFedOriginalInput, "output_close"),
    Bug(bugs.ThirdLayerFedFirstOutput, "layers_are_a_chain"),
    Bug(bugs.HalvesSwapped, "output_close"),
    Bug(bugs.PackedIndicesIgnored, "packed_is_each_sequence_alone"),
    Bug(bugs.OffByOneTime, "h_n_is_last_valid_step"),
    Bug(bugs.H0Ignored, "streaming"),
    Bug(bugs.H0FirstSequenceOnly, "batch_independence"),
    Bug(bugs.DetachedState, "gradients"),
    Bug(bugs.FirstOrderOnlyBackward, "gradcheck"),
    Bug(bugs.SilentUpcast, "shapes"),
    Bug(bugs.LowPrecisionAccumulation, "output_close"),
    Bug(bugs.AutocastOff, "autocast"),
    Bug(bugs.LayoutGuessing, "batch_first_is_transpose"),
    Bug(bugs.UnbatchedWrongAxis, "unbatched_is_batch_of_one"),
    Bug(bugs.WrongInitDistribution, "initialisation"),
    Bug(bugs.WrongParameterNames, "parameters"),
    Bug(bugs.DifferentErrorMessage, "forward_errors"),
    Bug(bugs.DifferentConstructorMessage, "constructor_errors"),
    Bug(bugs.CellOrderConstructor, "positional_arguments"),
    Bug(bugs.ReprShowsNonlinearity, "repr"),
    Bug(bugs.LambdaActivation, "serialization"),
    Bug(bugs.CachedWeights, "conversion"),
    Bug(bugs.H0OnDefaultDevice, "shapes_large_meta"),
    *SUBTLE,
    Bug(gru.GRUResetBeforeProduct, "output_close"),
    Bug(gru.GRUUpdateSwapped, "output_close"),
    Bug(gru.GRUGateOrderZR, "output_close"),
    Bug(gru.GRUResetBiasOutside, "output_close"),
    Bug(lstm.LSTMGateOrderTF, "output_close"),
    Bug(lstm.LSTMForgetBiasAdded, "output_close"),
    Bug(lstm.LSTMCellNotSquashed, "output_close"),
    Bug(lstm.LSTMProjectionDetached, "gradients"),
    Bug(lstm.LSTMCellStateReset, "streaming"),
    Bug(lstm.LSTMStatesSwapped, "output_close"),
    Bug(lstm.LSTMCellGateOrderTF, "cell_output_close"),
    Bug(lstm.GRUCellResetBeforeProduct, "cell_output_close"),
    Bug(cells.CellMissingHiddenBias, "cell_output_close"),
    Bug(cells.CellIgnoresNonlinearity, "cell_output_close"),
    Bug(cells.CellDetachedHidden, "cell_gradients"),
    Bug(cells.CellUnbatchedNotSqueezed, "cell_output_close"),
    Bug(cells.CellFriendlyErrors, "cell_errors"),
    Bug(cells.CellNaiveOrder, "cell_output_exact"),
    Bug(workflows.CompiledStepDropsBias, "compiled_close"),
    Bug(workflows.CompiledFirstLength, "compiled_close"),
    Bug(workflows.DataDependentSkip, "exported"),
)

CONTROLS: tuple[Bug, ...] = (
    Bug(HookedRNN, "", name="HookedRNN (control)"),
    _torch(nn.RNN, "torch.nn.RNN (control)"),
    Bug(gru.HookedGRU, "", name="HookedGRU (control)"),
    _torch(nn.GRU, "torch.nn.GRU (control)"),
    Bug(lstm.HookedLSTM, "", name="HookedLSTM (control)"),
    _torch(nn.LSTM, "torch.nn.LSTM (control)"),
    Bug(nn.RNNCell, "", name="torch.nn.RNNCell (control)"),
    Bug(nn.GRUCell, "", name="torch.nn.GRUCell (control)"),
    Bug(nn.LSTMCell, "", name="torch.nn.LSTMCell (control)"),
)
"""Correct implementations: killed by no property (so the bugs' kills are the bugs')."""

FOREIGN: tuple[Bug, ...] = (
    Bug(foreign.NotebookRNN, ""),
    Bug(foreign.FusedGemmRNN, ""),
    Bug(foreign.EinsumRNN, ""),
    Bug(foreign.CellLoopRNN, ""),
    Bug(foreign.Float64RNN, ""),
    Bug(foreign.LinearLayersRNN, "", foreign.LinearLayersAdapter()),
    Bug(foreign.TextbookGRU, ""),
    Bug(foreign.TextbookLSTM, ""),
    Bug(foreign.NotebookRNNCell, ""),
    Bug(foreign.TextbookGRUCell, ""),
    Bug(foreign.TextbookLSTMCell, ""),
)
"""Foreign controls: correct implementations that sum in other orders than ATen's, written the
way people write them (:mod:`rnn_impl.testing.zoo.foreign`). No property but the bit-exact and
drop-in ones may reject them."""

CORRECT: tuple[Bug, ...] = (
    _torch(nn.RNN, "torch.nn.RNN"),
    Bug(rnn_impl.RNN, "", name="rnn_impl.RNN"),
    Bug(StepByStepRNN, "", name="rnn_impl.RNN, step by step"),
    _torch(nn.GRU, "torch.nn.GRU"),
    Bug(rnn_impl.GRU, "", name="rnn_impl.GRU"),
    _torch(nn.LSTM, "torch.nn.LSTM"),
    Bug(rnn_impl.LSTM, "", name="rnn_impl.LSTM"),
    Bug(nn.RNNCell, "", name="torch.nn.RNNCell"),
    Bug(rnn_impl.RNNCell, "", name="rnn_impl.RNNCell"),
    Bug(nn.GRUCell, "", name="torch.nn.GRUCell"),
    Bug(rnn_impl.GRUCell, "", name="rnn_impl.GRUCell"),
    Bug(nn.LSTMCell, "", name="torch.nn.LSTMCell"),
    Bug(rnn_impl.LSTMCell, "", name="rnn_impl.LSTMCell"),
    *FOREIGN,
)
"""Correct implementations the false-alarm campaign runs (``--false-alarms``): torch's and
rnn_impl's, which follow ATen's order, and the foreign controls, which do not."""

__all__ = ["Bug", "CONTROLS", "CORRECT", "ESCAPES", "FOREIGN", "SUBTLE", "ZOO"]
