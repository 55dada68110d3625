"""The `stepwise` command is what the project installs, and the README's setup installs it."""

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_project_script_is_the_clis_main():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = project["project"]["scripts"]["stepwise"]
    module, _, name = target.partition(":")
    assert callable(getattr(importlib.import_module(module), name))
    assert project["tool"]["setuptools"]["packages"] == ["stepwise_cli"]
    assert any(d.startswith("PyYAML") for d in project["project"]["dependencies"])


def test_make_venv_installs_the_project_so_the_command_exists():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "pyproject.toml" in recipe.splitlines()[0]
    assert "pip install" in recipe and "--no-deps -e ." in recipe
