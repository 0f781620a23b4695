"""The house rules: the package root holds the drop-in, the verifier lives under
rnn_impl.testing with one public API, the plugin loads without torch or Hypothesis, old import
paths keep working, and no module of the drop-in imports another in a circle."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import rnn_impl

PACKAGE = Path(rnn_impl.__file__).parent  # the installed package: the wheel in tox's wheel leg


def test_the_plugin_and_the_package_load_without_torch_or_hypothesis():
    code = (
        "import sys, rnn_impl, rnn_impl.testing, rnn_impl.testing.pytest_plugin\n"
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
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        testing.nothing  # noqa: B018


def test_old_import_paths_keep_working():
    from rnn_impl.cli import main
    from rnn_impl.testing.cli import main as moved
    from rnn_impl.testing.oracle import Adapter  # noqa: F401

    assert main is moved


DROP_INS = ["rnn", "gru", "lstm", "cell"]
"""The public modules at the package root, one per drop-in (the cells share one)."""


def test_the_package_root_holds_the_drop_in_only():
    root = {p.name for p in PACKAGE.glob("*.py")}
    assert root == {
        "__init__.py",
        "__main__.py",
        "_base.py",
        "_bptt.py",
        "_checks.py",
        "_layout.py",
        "_recurrence.py",
        "_steps.py",
        "cell.py",
        "cli.py",  # a re-export of rnn_impl.testing.cli.main, for the old entry point
        "gru.py",
        "lstm.py",
        "rnn.py",
    }


def imports(path: Path) -> set[str]:
    """The rnn_impl modules ``path`` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rnn_impl"):
            if node.module == "rnn_impl":
                found |= {f"rnn_impl.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rnn_impl")}
    return found


def test_no_import_circle_in_the_drop_in():
    modules = {f"rnn_impl.{p.stem}": p for p in PACKAGE.glob("_*.py") if p.stem != "__main__"}
    modules |= {f"rnn_impl.{name}": PACKAGE / f"{name}.py" for name in DROP_INS}
    graph = {name: imports(path) & set(modules) for name, path in modules.items()}

    def reaches(start, target, seen=()):
        return any(
            n == target or (n not in seen and reaches(n, target, (*seen, n))) for n in graph[start]
        )

    circles = [name for name in graph if reaches(name, name)]
    assert not circles, f"import circles through {circles}"


def test_the_zoo_reaches_into_no_private_function():
    zoo = PACKAGE / "testing" / "zoo"
    for path in zoo.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id.startswith("_") and node.attr.startswith("_"):
                    pytest.fail(f"{path.name} uses {node.value.id}.{node.attr}")


def test_the_drop_in_docstring_examples_run():
    import doctest

    import torch

    for name in DROP_INS:
        module = importlib.import_module(f"rnn_impl.{name}")
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
