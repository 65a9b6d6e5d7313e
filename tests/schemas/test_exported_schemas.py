"""The committed JSON Schema files match the models they are exported from."""

from __future__ import annotations

import pytest

from codegym_mcp.schemas._export import EXPORTED, render_schema, schema_dir


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_committed_schema_file_matches_its_model(name: str) -> None:
    path = schema_dir() / f"{name}.schema.json"
    assert path.exists(), f"{path} is missing: run python -m codegym_mcp.schemas"
    assert path.read_text(encoding="utf-8") == render_schema(EXPORTED[name]), (
        f"{path.name} drifted from its model: run python -m codegym_mcp.schemas and commit the result"
    )


def test_every_schema_file_belongs_to_a_model() -> None:
    names = {p.name.removesuffix(".schema.json") for p in schema_dir().glob("*.schema.json")}
    assert names == set(EXPORTED)
