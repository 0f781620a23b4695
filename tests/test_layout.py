"""The house rules: the package root holds the drop-in, the verifier lives under
rnn_impl.testing with one public API and builds on the drop-ins' public interface only, one
table names the kinds, the plugin loads without torch or Hypothesis, and no module of the
package imports another in a circle."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import rnn_impl

PACKAGE = Path(rnn_impl.__file__).parent  # the installed package: the wheel in tox's wheel leg
DROP_INS = ["rnn", "gru", "lstm", "cell"]
"""The public modules at the package root, one per drop-in (the cells share one)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
"""Every module of the installed package, by name."""


def imports(path: Path) -> set[str]:
    """The rnn_impl modules ``path`` imports, at any depth of its code (``from package import
    name`` counts as the module ``package.name`` where there is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rnn_impl"):
            for alias in node.names:
                inner = f"{node.module}.{alias.name}"
                found.add(inner if inner in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rnn_impl")}
    return found


GRAPH = {name: (imports(path) & set(MODULES)) - {name} for name, path in MODULES.items()}
"""The package's import graph: each module and the package's modules it imports."""


def test_the_plugin_and_the_package_load_without_torch_or_hypothesis():
    code = (
        "import sys, rnn_impl, rnn_impl.testing, rnn_impl.testing.pytest_plugin\n"
        "import rnn_impl.testing.kinds, rnn_impl.testing.command\n"
        "heavy = sorted({'torch', 'hypothesis'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_public_api_resolves():
    import rnn_impl.testing as testing
    from rnn_impl.testing import oracle, runner, strategies

    assert testing.Adapter is oracle.Adapter
    assert testing.verify is runner.verify
    assert testing.rnn_configs is strategies.rnn_configs
    for name in testing.__all__:
        assert getattr(testing, name) is not None, name
    for name in rnn_impl.__all__:
        assert getattr(rnn_impl, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        testing.nothing  # noqa: B018


def test_the_package_root_holds_the_drop_in_only():
    """The verifier starts from rnn-verify and ``python -m rnn_impl.testing``, never from the
    drop-in's root (no cli.py, no __main__.py there)."""
    root = {p.name for p in PACKAGE.glob("*.py")}
    private = {
        "_base.py",
        "_bptt.py",
        "_checks.py",
        "_layout.py",
        "_recurrence.py",
        "_steps.py",
    }
    public = {"ops.py", "onnx.py"}  # the drop-ins' operations, and their ONNX translations
    assert root == {"__init__.py", *private, *public, *(f"{name}.py" for name in DROP_INS)}


def test_no_import_circle_in_the_package():
    def reaches(start, target, seen=()):
        return any(
            n == target or (n not in seen and reaches(n, target, (*seen, n))) for n in GRAPH[start]
        )

    circles = [name for name in GRAPH if reaches(name, name)]
    assert not circles, f"import circles through {circles}"


def test_the_drop_in_imports_nothing_from_the_verifier():
    verifier = {name for name in GRAPH if name.startswith("rnn_impl.testing")}
    leaks = {name: sorted(GRAPH[name] & verifier) for name in set(GRAPH) - verifier}
    assert not any(leaks.values()), leaks


def string_constants(path: Path) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_kind_is_named_outside_the_table_of_kinds():
    """Every module of the verifier reads rnn_impl.testing.kinds; none spells a kind's name
    (``"lstm"``, ``"gru_cell"``) or its torch class's (``"LSTM"``) itself."""
    from rnn_impl.testing.kinds import KINDS

    names = set(KINDS) | {kind.torch_name for kind in KINDS.values()}
    found = [
        f"{name}:{line}: {value!r}"
        for name, path in MODULES.items()
        if name.startswith("rnn_impl.testing") and name != "rnn_impl.testing.kinds"
        for line, value in string_constants(path)
        if value in names
    ]
    assert not found, found


def private_names_of_the_drop_ins() -> set[str]:
    """The private names rnn_impl's drop-ins define: their classes' own (``_run``,
    ``_zero_state``) and what their constructors set (``_all_weights``)."""
    from torch import nn

    classes = (rnn_impl.RNN, rnn_impl.GRU, rnn_impl.LSTM)
    classes += (rnn_impl.RNNCell, rnn_impl.GRUCell, rnn_impl.LSTMCell)
    found: set[str] = set()
    for cls in classes:
        found |= {
            n for base in cls.__mro__ if base.__module__.startswith("rnn_impl") for n in vars(base)
        }
        found |= set(vars(cls(2, 3))) - set(vars(nn.Module()))
    return {n for n in found if n.startswith("_") and not n.startswith("__")}


def private_uses(tree: ast.AST, private: set[str]) -> list[str]:
    """Where ``tree`` imports a private module of the drop-in (``rnn_impl._steps``), reaches
    one of its private names (``_bptt.ENABLED``, ``self._all_weights``) or overrides one
    (``def _zero_state``)."""
    found = []
    methods = {
        id(item)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, ast.FunctionDef)
    }
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rnn_impl"):
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            if any(part.startswith("_") for n in names for part in n.split(".")[1:2]):
                found.append(f"{line}: from {node.module} import {node.names[0].name}")
        elif isinstance(node, ast.Import):
            found += [f"{line}: import {a.name}" for a in node.names if "._" in a.name]
        elif isinstance(node, ast.Attribute) and node.attr in private:
            found.append(f"{line}: .{node.attr}")
        elif isinstance(node, ast.FunctionDef) and id(node) in methods and node.name in private:
            found.append(f"{line}: def {node.name}")
    return found


def test_the_verifier_uses_only_the_drop_ins_public_interface():
    """No module of rnn_impl.testing imports a private module of the drop-in, reads or
    assigns one of its private attributes, or overrides one of its private methods: the zoo
    builds its bugs on the drop-ins' public extension points (``recurrence``, ``layer``,
    ``step``), as a user's custom cell would."""
    private = private_names_of_the_drop_ins()
    found = {
        name: private_uses(ast.parse(path.read_text()), private)
        for name, path in MODULES.items()
        if name.startswith("rnn_impl.testing")
    }
    assert not any(found.values()), {k: v for k, v in found.items() if v}


@pytest.mark.parametrize(
    "code",
    [
        "from rnn_impl._steps import gru_step",
        "from rnn_impl import _bptt",
        "import rnn_impl._checks",
        "_bptt.ENABLED = False",
        "class Bug(RNN):\n    def _zero_state(self, batch, like): ...",
        "self._all_weights = []",
    ],
)
def test_the_private_use_check_can_fail(code):
    assert private_uses(ast.parse(code), private_names_of_the_drop_ins() | {"ENABLED"})


def test_the_docstring_examples_run():
    import doctest

    import torch

    testing = ["kinds", "cases", "oracle", "session", "runner", "strategies"]
    for name in [
        *(f"rnn_impl.{n}" for n in DROP_INS),
        "rnn_impl._base",
        *(f"rnn_impl.testing.{n}" for n in testing),
    ]:
        module = importlib.import_module(name)
        failed, tried = doctest.testmod(module, extraglobs={"torch": torch})
        assert tried > 0 and failed == 0, module.__name__


def test_the_github_workflow_runs_every_leg_of_the_gate():
    """.ci/run runs tox.ini's envlist; ci.yml's matrix must name the same legs."""
    import configparser
    import re

    root = Path(__file__).resolve().parent.parent
    tox = configparser.ConfigParser()
    tox.read(root / "tox.ini")
    envlist = [e.strip() for e in tox["tox"]["envlist"].split(",")]
    workflow = (root / ".github" / "workflows" / "ci.yml").read_text()
    matrix = re.search(r"^\s+env: \[(.*)\]$", workflow, re.MULTILINE)
    assert matrix is not None, "ci.yml has no matrix of tox envs"
    assert [e.strip() for e in matrix.group(1).split(",")] == envlist
    assert "legs=$(tox -l)" in (root / ".ci" / "run").read_text()
