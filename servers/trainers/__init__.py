"""Trainer adapters over the env API and a catalog server: Gymnasium, SkyRL-gym (and the text tool-call format).

Each adapter lives in its own module and imports its trainer there, so importing this package
needs none of them; importing a module registers its environment id:

- ``codegym_mcp.servers.trainers.gymnasium_env``: ``gymnasium.make("codegym/CodeGym-v0", ...)``
  (``pip install 'codegym-mcp[gymnasium]'``);
- ``codegym_mcp.servers.trainers.skyrl_env``: ``skyrl_gym.make("codegym", ...)``
  (``pip install 'codegym-mcp[skyrl]'``);
- ``codegym_mcp.servers.trainers.text_tools``: the ``<tool_call>`` text format (no extra).

verifiers and OpenEnv pin other MCP versions: their adapters are distributions of their own
under ``integrations/`` (see docs/trainers.md).
"""

from __future__ import annotations

__all__: list[str] = []
