"""The regression corpus: failures found once, replayed by every run after.

A JSON file a project keeps beside its tests and reviews like code. Each entry is one minimal
failing example, as explicit data: the property, device and dtype, the constructor arguments
(:class:`~rnn_impl.testing.cases.ModuleConfig`) and the input (:class:`~rnn_impl.testing.cases.InputCase`,
whose seed makes every tensor), and what found it (implementation, torch and Hypothesis
versions, the failure's first line)::

    {
      "format": "rnn-impl corpus 1",
      "failures": [
        {
          "property": "output_exact", "device": "cpu", "dtype": "float32",
          "config": {"input_size": 11, "hidden_size": 13, ...},
          "case": {"layout": "batched", "seq_len": 5, "batch": 3, "seed": 0, ...},
          "found": {"implementation": "...", "torch": "2.13.0+cpu", "hypothesis": "6.170.17",
                    "failure": "PropertyFailure: output is not bit-identical ..."}
        }
      ]
    }

``rnn-verify --corpus FILE`` and the pytest plugin (``--rnn-corpus FILE``, or the ``corpus``
argument of :func:`~rnn_impl.testing.pytest_plugin.parametrize_catalogue`) run a property's
entries first, before its covering set and any drawn example, in every profile (``ci``
included), so the gate fails on every failure ever recorded, with no example database and no
luck. ``rnn-verify --save-failures FILE`` adds the minimal example of each failed run (an
entry already there is not added twice). Entries are kept sorted, one per failure, so a
change to the file reads as a diff of failures.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnn_impl.testing import devices
from rnn_impl.testing.cases import InputCase, ModuleConfig

if TYPE_CHECKING:
    from rnn_impl.testing.strategies import Example

FORMAT = "rnn-impl corpus 1"


@dataclass(frozen=True)
class Failure:
    """One recorded failure: the property (``prop``) and where it ran, the example, and what
    found it (``found``, not part of its identity: the same example found again is the same
    failure)."""

    prop: str
    device: str
    dtype: str
    config: ModuleConfig
    case: InputCase
    found: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def run_id(self) -> str:
        """The run it belongs to, as rnn-verify and the plugin name runs."""
        return f"{self.prop}-{self.device}-{self.dtype}"

    def example(self) -> Example:
        from rnn_impl.testing.strategies import Example

        return Example(self.config, self.case, self.device, devices.dtype_of(self.dtype))

    def to_json(self) -> dict[str, Any]:
        case = asdict(self.case)
        if case["lengths"] is not None:
            case["lengths"] = list(case["lengths"])
        return {
            "property": self.prop,
            "device": self.device,
            "dtype": self.dtype,
            "config": asdict(self.config),
            "case": case,
            "found": dict(self.found),
        }


def failure_of(
    prop: str, example: Example, implementation: str, failure: str, **more: str
) -> Failure:
    """The corpus entry for ``example``, on which property ``prop`` failed with ``failure``
    (its first line) for ``implementation``; ``found`` records those, the torch and Hypothesis
    versions of this process, and ``more``."""
    import hypothesis
    import torch

    found = {
        "implementation": implementation,
        "torch": torch.__version__,
        "hypothesis": hypothesis.__version__,
        "failure": failure,
        **more,
    }
    return Failure(
        prop, example.device, devices.dtype_name(example.dtype), example.config, example.case, found
    )


def _dataclass_from(cls: type, value: Any, where: str) -> Any:
    names = {f.name for f in fields(cls)}
    if not isinstance(value, dict) or not set(value) <= names:
        unknown = sorted(set(value) - names) if isinstance(value, dict) else value
        raise ValueError(f"{where}: expected {cls.__name__} fields, got {unknown!r}")
    if cls is InputCase and value.get("lengths") is not None:
        value = {**value, "lengths": tuple(value["lengths"])}
    return cls(**value)


def read(path: str | Path) -> list[Failure]:
    """The failures recorded in ``path``.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not a corpus, naming the file and the entry.
    """
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f'{path}: not a corpus (its "format" must be {FORMAT!r})')
    failures = []
    for index, entry in enumerate(data.get("failures", [])):
        where = f"{path}: failures[{index}]"
        try:
            devices.dtype_of(str(entry["dtype"]))
            failures.append(
                Failure(
                    str(entry["property"]),
                    str(entry["device"]),
                    str(entry["dtype"]),
                    _dataclass_from(ModuleConfig, entry["config"], f"{where}.config"),
                    _dataclass_from(InputCase, entry["case"], f"{where}.case"),
                    {str(k): str(v) for k, v in entry.get("found", {}).items()},
                )
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"{where}: missing or malformed field {error}") from None
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    return failures


def load(path: str | Path) -> list[Failure]:
    """:func:`read`, every mistake a ``ValueError`` saying it is about the corpus."""
    try:
        return read(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"corpus: {error}") from None


def replay(failures: list[Failure], prop: str, device: str, dtype: str) -> list[Example]:
    """The examples recorded for one run (property, device, dtype name), in file order."""
    return [f.example() for f in failures if (f.prop, f.device, f.dtype) == (prop, device, dtype)]


def save(path: str | Path, new: list[Failure]) -> int:
    """Add the failures of ``new`` that ``path`` does not hold yet (creating it); returns how
    many were added."""
    path = Path(path)
    held = read(path) if path.exists() else []
    known = set(held)
    added = []
    for failure in new:
        if failure not in known:
            known.add(failure)
            added.append(failure)
    entries = sorted(
        (f.to_json() for f in held + added),
        key=lambda e: json.dumps({k: e[k] for k in e if k != "found"}, sort_keys=True),
    )
    text = json.dumps({"format": FORMAT, "failures": entries}, indent=2, sort_keys=True)
    path.write_text(text + "\n")
    return len(added)
