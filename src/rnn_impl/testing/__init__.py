"""Verify any recurrent implementation against torch's own (``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` and
their cells).

The public API, importable from here (each name is imported on first use):

* the implementation under test: :class:`Adapter`, :class:`Implementation`, :func:`load_implementation`
  (:mod:`~rnn_impl.testing.oracle`);
* a case: :class:`ModuleConfig`, :class:`InputCase` (:mod:`~rnn_impl.testing.cases`),
  :class:`Example` (:mod:`~rnn_impl.testing.strategies`);
* Hypothesis strategies: :func:`rnn_configs`, :func:`input_cases`, :func:`examples`,
  :func:`sizes`, :func:`weight_scales` (:mod:`~rnn_impl.testing.strategies`);
* the catalogue and running it: :data:`CATALOGUE`, :class:`Property`
  (:mod:`~rnn_impl.testing.properties`), :func:`verify` (:mod:`~rnn_impl.testing.runner`);
* the exceptions: :class:`ImplementationError`, :class:`PropertyFailure`
  (:mod:`~rnn_impl.testing.exceptions`);
* the front ends: ``rnn-verify`` (:mod:`~rnn_impl.testing.cli`, ``python -m rnn_impl.testing``)
  and the pytest plugin (:mod:`~rnn_impl.testing.pytest_plugin`), with its one-line API
  :func:`parametrize_catalogue` and expected failures (:mod:`~rnn_impl.testing.expected`).

The modules, from the bottom up:

* :mod:`~rnn_impl.testing.environment`, :mod:`~rnn_impl.testing.profiles`,
  :mod:`~rnn_impl.testing.exceptions`, :mod:`~rnn_impl.testing.kinds`: the environment
  variables, Hypothesis profiles, exceptions and the table of kinds (torch-free).
* :mod:`~rnn_impl.testing.devices`: devices and dtypes.
* :mod:`~rnn_impl.testing.cases`: what a case is, and its tensors from a seed.
* :mod:`~rnn_impl.testing.oracle`: the implementation under test next to torch's module.
* :mod:`~rnn_impl.testing.invalid_calls`: the catalogue of invalid calls, compared by outcome.
* :mod:`~rnn_impl.testing.sensitivity`: how far any correct order of arithmetic may land,
  from perturbed float64 re-runs of torch's equations.
* :mod:`~rnn_impl.testing.tolerances`: every tolerance, with its reason.
* :mod:`~rnn_impl.testing.covering`: covering arrays (pairwise, some factors crossed in full)
  and the covering levels.
* :mod:`~rnn_impl.testing.strategies`: public Hypothesis strategies.
* :mod:`~rnn_impl.testing.properties`: the property catalogue.
* :mod:`~rnn_impl.testing.runner`: one property through Hypothesis.
* :mod:`~rnn_impl.testing.session`: what a verification runs (property x device x dtype), and
  why a run does not run here; every front end builds one.
* :mod:`~rnn_impl.testing.localise`: where a failing example first departs from torch, and
  which of its settings the failure needs.
* :mod:`~rnn_impl.testing.report`, :mod:`~rnn_impl.testing.command` (shared CLI options),
  :mod:`~rnn_impl.testing.cli`, :mod:`~rnn_impl.testing.search`,
  :mod:`~rnn_impl.testing.pytest_plugin`: the front ends.
* :mod:`~rnn_impl.testing.zoo`: planted bugs the catalogue must catch, the kill matrix,
  detection power and false alarms.

Importing this package, ``environment``, ``profiles`` or the pytest plugin imports neither
torch nor Hypothesis; ``cases``, ``oracle``, ``invalid_calls``, ``tolerances``, ``covering`` and
``devices`` import torch but not Hypothesis; the strategies, properties, runner and zoo import
both.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Adapter": "oracle",
    "Implementation": "oracle",
    "ImplementationError": "exceptions",
    "load_implementation": "oracle",
    "ModuleConfig": "cases",
    "InputCase": "cases",
    "Example": "strategies",
    "rnn_configs": "strategies",
    "input_cases": "strategies",
    "examples": "strategies",
    "sizes": "strategies",
    "weight_scales": "strategies",
    "CATALOGUE": "properties",
    "BY_NAME": "properties",
    "Session": "session",
    "Property": "properties",
    "PropertyFailure": "exceptions",
    "verify": "runner",
    "parametrize_catalogue": "pytest_plugin",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rnn_impl.testing' has no attribute {name!r}")
    module = importlib.import_module(f"rnn_impl.testing.{_EXPORTS[name]}")
    return getattr(module, name)
