"""OpenEnv's own cost per step, for ``benchmarks.trainers``: an OpenEnv server whose environment does nothing.

``python -m benchmarks._openenv_echo --port P`` serves, with OpenEnv's ``create_fastapi_app``, an
environment that answers every ``CallToolAction`` at once with a short observation. A step through
it is OpenEnv's client, WebSocket hop and server, with no gym behind: what OpenEnv itself adds.
"""

from __future__ import annotations

import argparse
from typing import Any

from openenv.core.env_server.http_server import create_fastapi_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.mcp_types import CallToolAction
from openenv.core.env_server.types import Action, State

from codegym_mcp.servers.trainers.openenv_env import CodeGymObservation


class EchoEnv(Environment):  # type: ignore[misc]
    """Answers every step at once: the text of the called tool's name."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self) -> None:
        super().__init__()
        self._state = State()

    def reset(
        self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any
    ) -> CodeGymObservation:
        """A fresh episode."""
        self._state = State(step_count=0)
        return CodeGymObservation(text="echo")

    def step(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> CodeGymObservation:
        """Not used: the server awaits :meth:`step_async`."""
        raise RuntimeError("EchoEnv is asynchronous")

    async def reset_async(
        self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any
    ) -> CodeGymObservation:
        """A fresh episode."""
        return self.reset()

    async def step_async(
        self, action: Action, timeout_s: float | None = None, **kwargs: Any
    ) -> CodeGymObservation:
        """The tool's name back, at once."""
        self._state.step_count += 1
        return CodeGymObservation(text=getattr(action, "tool_name", ""), structured=None)

    @property
    def state(self) -> State:
        """The step count."""
        return self._state


def main(argv: list[str] | None = None) -> None:
    """Serve the echo environment on 127.0.0.1:PORT."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    app = create_fastapi_app(EchoEnv, CallToolAction, CodeGymObservation, max_concurrent_envs=64)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
