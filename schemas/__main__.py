"""``python -m codegym_mcp.schemas``: rewrite the exported JSON Schema files."""

from ._export import write_schemas

for path in write_schemas():
    print(path)
