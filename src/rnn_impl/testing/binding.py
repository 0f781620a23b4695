"""How torch's constructor arguments reach a user's class: by keyword (torch's name or an alias
of :data:`ALIASES`), the first two also by position, the rest held at torch's defaults
(torch-free).

Example::

    >>> class MyRNN:
    ...     def __init__(self, input_size, hidden_size, layers_size, first_batch=False): ...
    >>> binding = bind(MyRNN, ("input_size", "hidden_size", "num_layers", "nonlinearity",
    ...     "bias", "batch_first", "dropout", "bidirectional"), {"nonlinearity": "tanh",
    ...     "bias": True, "dropout": 0.0, "bidirectional": False})
    >>> binding.keywords  # torch's argument: MyRNN's parameter
    {'input_size': 'input_size', 'hidden_size': 'hidden_size', 'num_layers': 'layers_size', 'batch_first': 'first_batch'}
    >>> binding.held
    {'nonlinearity': 'tanh', 'bias': True, 'dropout': 0.0, 'bidirectional': False}
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ALIASES: dict[str, tuple[str, ...]] = {
    "input_size": ("input_dim", "input_features", "in_features", "n_inputs", "num_inputs"),
    "hidden_size": ("hidden_dim", "hidden_features", "n_hidden", "num_hidden", "hidden_units"),
    "num_layers": ("layers_size", "n_layers", "num_layer", "layers", "layer_count", "depth"),
    "nonlinearity": ("activation", "non_linearity"),
    "bias": ("use_bias", "with_bias"),
    "batch_first": ("first_batch", "batch_major"),
    "dropout": ("dropout_p", "p_dropout"),
    "bidirectional": ("bidirection", "bidir", "bi_directional"),
    "proj_size": ("projection_size",),
}
"""Other names a constructor gives torch's arguments; a parameter with one of these names is
that argument (torch's own name first)."""

POSITIONAL = ("input_size", "hidden_size")
"""The arguments bound by position when no parameter is named for them: a third positional
parameter (``output_size`` in many notebooks) means something else, so it is never bound."""


@dataclass(frozen=True)
class Binding:
    """How to call a factory with torch's arguments.

    Attributes:
        keywords: torch's argument -> the factory's parameter that takes it.
        positional: those of them bound by position (no name or alias matched).
        held: torch's arguments the factory does not take, with the torch default every
            configuration holds them at.
        moved: the factory takes no ``device`` / ``dtype``: the module is built, then moved.
        open: the factory takes ``**kwargs``: torch's names are passed as they are.
    """

    keywords: dict[str, str] = field(default_factory=dict)
    positional: tuple[str, ...] = ()
    held: dict[str, Any] = field(default_factory=dict)
    moved: bool = False
    open: bool = True

    def call(self, factory: Callable[..., Any], arguments: Mapping[str, Any], where: dict) -> Any:
        """``factory`` called with ``arguments`` (torch's names) and ``where`` (``device``,
        ``dtype``), moved there afterwards when it takes neither."""
        if self.open:
            return factory(**arguments, **where)
        kwargs = {self.keywords[name]: arguments[name] for name in self.keywords}
        if self.moved:
            return factory(**kwargs).to(**where)
        return factory(**kwargs, **where)

    def describe(self, name: str) -> list[str]:
        """What a person reads before the run: each binding, what is held, the move."""
        if self.open and not self.held:
            return []
        shown = [
            (p if p == a else f"{p}={a}") + (" (by position)" if a in self.positional else "")
            for a, p in self.keywords.items()
        ]
        lines = [f"binding: {name}({', '.join(shown)})"]
        lines += [
            f"  not applicable: {name} takes no {a} (held at {v!r})" for a, v in self.held.items()
        ]
        if self.moved:
            lines.append(f"  {name} takes no device / dtype: built, then moved with .to()")
        return lines


def bind(
    factory: Callable[..., Any],
    arguments: Sequence[str],
    defaults: Mapping[str, Any],
    extra: Mapping[str, str] | None = None,
) -> Binding:
    """How ``factory`` takes torch's ``arguments`` (positional order; ``defaults`` for those
    it may not take); ``extra`` maps more of torch's arguments to its parameter names (``--arg
    num_layers=layers_size``).

    Raises:
        ValueError: it cannot be called so: a required parameter takes none of them, an
            ``extra`` names a parameter it lacks, or it lacks an argument with no default.
    """
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return Binding()
    params = {
        p.name: p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    moved = not ({"device", "dtype"} <= params.keys() or takes_kwargs)
    if takes_kwargs or all(name in params for name in arguments):
        return Binding(moved=moved)
    what = getattr(factory, "__name__", str(factory))
    keywords: dict[str, str] = {}
    for argument, parameter in (extra or {}).items():
        if argument not in arguments:
            raise ValueError(
                f"--arg {argument}={parameter}: {argument} is not one of {', '.join(arguments)}"
            )
        if parameter not in params:
            raise ValueError(f"--arg {argument}={parameter}: {what} has no parameter {parameter!r}")
        keywords[argument] = parameter
    for argument in arguments:
        if argument in keywords:
            continue
        for name in (argument, *ALIASES.get(argument, ())):
            if name in params and name not in keywords.values():
                keywords[argument] = name
                break
    positional: list[str] = []
    leading = [p for p in params.values() if p.name not in ("device", "dtype")]
    for argument, param in zip(POSITIONAL, leading):
        if argument in keywords or param.name in keywords.values():
            break
        if param.kind is param.KEYWORD_ONLY:
            break
        keywords[argument] = param.name
        positional.append(argument)
    bound = set(keywords.values())
    for p in params.values():
        if p.name not in bound and p.name not in ("device", "dtype") and p.default is p.empty:
            raise ValueError(
                f"{what}'s parameter {p.name!r} takes none of torch's arguments "
                f"({', '.join(arguments)}): bind it with --arg ARGUMENT={p.name}, or give it a "
                "default"
            )
    taken = set(keywords)
    missing = [a for a in arguments if a not in taken and a not in defaults]
    if missing:
        raise ValueError(
            f"{what} takes no {missing[0]} (by name, an alias or position): bind it with "
            f"--arg {missing[0]}=PARAMETER"
        )
    held = {a: defaults[a] for a in arguments if a not in taken}
    keywords = {a: keywords[a] for a in arguments if a in keywords}
    return Binding(keywords, tuple(positional), held, moved, open=False)
