"""Each package's public surface is its ``__all__``: every name resolves, nothing private leaks."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

PACKAGES = ["codegym_mcp.schemas", "codegym_mcp.runtime", "codegym_mcp.generator", "codegym_mcp.servers"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, f"{name} exports nothing"
    for member in module.__all__:
        assert getattr(module, member) is not None, f"{name}.{member}"


@pytest.mark.parametrize("name", PACKAGES)
def test_exports_are_unique_and_public(name: str) -> None:
    exported = importlib.import_module(name).__all__
    assert len(set(exported)) == len(exported)
    assert not [m for m in exported if m.startswith("_")]


@pytest.mark.parametrize("name", PACKAGES)
def test_public_modules_are_private_files(name: str) -> None:
    """Implementation lives in _private modules: only __init__, __main__ and cli are public names."""
    package = importlib.import_module(name)
    files = {p.stem for p in Path(package.__file__ or "").parent.glob("*.py")}
    public = {f for f in files if not f.startswith("_")}
    assert public <= {"cli"}, f"{name} has public modules {sorted(public - {'cli'})}"


SUBPACKAGES = [
    f"{parent}.{sub}"
    for parent in ("codegym_mcp.generator", "codegym_mcp.servers")
    for sub in sorted(
        p.parent.name
        for p in Path(importlib.import_module(parent).__file__ or "").parent.glob("*/__init__.py")
    )
]


def test_generator_and_servers_are_split_into_sub_packages() -> None:
    assert {"codegym_mcp.generator.carving", "codegym_mcp.servers.cli"} <= set(SUBPACKAGES)


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_the_modules_of_a_sub_package_are_private_files(name: str) -> None:
    package = importlib.import_module(name)
    files = {p.stem for p in Path(package.__file__ or "").parent.glob("*.py")}
    # The trainer adapters are import paths users name: importing one registers its env id.
    allowed = {"gymnasium_env", "skyrl_env", "openenv_env", "text_tools", "recipes", "local", "verl_tool"}
    public = {f for f in files if not f.startswith("_")} - (allowed if name.endswith(".trainers") else set())
    assert not public, f"{name} has public modules"
