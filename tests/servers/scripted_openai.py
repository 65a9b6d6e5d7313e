"""A local OpenAI-compatible server on 127.0.0.1 that plays a scripted policy over a catalog's gyms.

Each request's ``X-Codegym-Episode`` header (sent by the OpenAI policy) names the episode: task,
episode index, sample (seed). A ``script(task_id, instance, seed)`` says how to play it:

- ``right``: replay the episode's oracle plan (the calls the oracle policy makes), then submit its answer;
- ``wrong``: the same calls, then submit a wrong answer of the right type;
- ``skip_right`` / ``skip_wrong``: submit the right / a wrong answer at once, calling no tool.

The server is stateless per episode: the number of tool calls already in the conversation says
where the plan stands. ``chunk`` calls go in each reply (parallel tool calls). ``faults`` hold,
per episode, answers given before the scripted ones, one per request: ``429``, ``500`` or
``hang`` (no answer until the client gives up; released at shutdown). Nothing reaches the network.
It is used by the calibration tests and by ``benchmarks/calibrate.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import JsonValue

from codegym_mcp.runtime import Catalog, canonical_json
from codegym_mcp.servers import EpisodeContext, Observation, OraclePolicy
from codegym_mcp.servers.rollout._policies import random_value

from .._openai_http import send_json

__all__ = [
    "SERVER_SECONDS_HEADER",
    "Behaviour",
    "Fault",
    "ScriptedServer",
    "hashed_script",
    "mutated",
    "oracle_plan",
    "scripted_server",
]

Behaviour = Literal["right", "wrong", "skip_right", "skip_wrong"]
Fault = Literal["429", "500", "hang"]
Script = Callable[[str, int, int], Behaviour]
_HEADER = "x-codegym-episode"
SERVER_SECONDS_HEADER = "x-scripted-seconds"
"""Response header: seconds the server spent on the request, from reading its body to encoding
the reply (the benchmark's strictest measure of the model's own time)."""


def mutated(value: JsonValue) -> JsonValue:
    """A different value of the same JSON type (the first element or value changed for containers).

    Raises:
        ValueError: the value has nothing to change (null, an empty list or object).
    """
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.0
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        for i, item in enumerate(value):
            with suppress(ValueError):
                return [*value[:i], mutated(item), *value[i + 1 :]]
    if isinstance(value, dict):
        for key, item in value.items():
            with suppress(ValueError):
                return {**value, key: mutated(item)}
    raise ValueError(f"no wrong answer of the same type as {value!r}")


def wrong_answer(value: JsonValue, schema: dict[str, Any]) -> JsonValue:
    """:func:`mutated`, else a random value of the answer's schema that differs from ``value``."""
    with suppress(ValueError):
        return mutated(value)
    rng = random.Random(0)
    for _ in range(100):
        guess = random_value(schema, rng)
        if canonical_json(guess) != canonical_json(value):
            return guess
    raise ValueError(f"no wrong answer for {value!r} under {schema}")


def oracle_plan(catalog: Catalog, task_id: str, instance: int) -> list[tuple[str, dict[str, JsonValue]]]:
    """The calls the oracle policy makes on this episode, submit last."""
    agent = OraclePolicy(catalog).agent(
        EpisodeContext(task_id=task_id, task_text="", tools=(), instance_index=instance)
    )
    calls: list[tuple[str, dict[str, JsonValue]]] = []

    async def collect() -> None:
        while (call := await agent.act(Observation(text=""))) is not None:
            calls.append((call.name, dict(call.arguments)))

    anyio.run(collect)
    return calls


@dataclass
class ScriptedServer:
    """State of a running scripted server: what it answered, and to whom."""

    catalog: Catalog
    script: Script
    chunk: int = 1
    faults: dict[tuple[str, int, int], list[Fault]] = field(default_factory=dict)
    url: str = ""
    requests: int = 0
    episodes: set[tuple[str, int, int]] = field(default_factory=set)
    _plans: dict[tuple[str, int], list[tuple[str, dict[str, JsonValue]]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)

    def plan(self, task_id: str, instance: int) -> list[tuple[str, dict[str, JsonValue]]]:
        with self._lock:
            plan = self._plans.get((task_id, instance))
        if plan is None:
            plan = oracle_plan(self.catalog, task_id, instance)
            with self._lock:
                self._plans[(task_id, instance)] = plan
        return plan

    def calls_for(
        self, episode: tuple[str, int, int], done: int, answer_schema: dict[str, Any]
    ) -> list[tuple[str, dict[str, JsonValue]]]:
        """The next calls of this episode once ``done`` calls were made (empty: nothing left to do)."""
        task_id, instance, seed = episode
        behaviour = self.script(task_id, instance, seed)
        if behaviour.startswith("skip"):
            answer = self.plan(task_id, instance)[-1][1]["answer"]  # what the oracle submits
            if behaviour == "skip_wrong":
                answer = wrong_answer(answer, answer_schema)
            return [] if done else [("submit", {"answer": answer})]
        plan = self.plan(task_id, instance)
        if behaviour == "wrong":
            name, arguments = plan[-1]
            plan = [
                *plan[:-1],
                (name, {**arguments, "answer": wrong_answer(arguments["answer"], answer_schema)}),
            ]
        return plan[done : done + self.chunk]

    def answer(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """Status and JSON body of one request (None: hang, then drop the connection)."""
        tag = dict(
            part.strip().split("=", 1) for part in str(headers.get(_HEADER, "")).split(";") if "=" in part
        )
        episode = (tag["task"], int(tag["instance"]), int(tag["seed"]))
        with self._lock:
            self.requests += 1
            self.episodes.add(episode)
            queue = self.faults.get(episode)
            fault = queue.pop(0) if queue else None
        if fault == "hang":
            self._release.wait(60.0)
            return 0, None
        if fault is not None:
            return int(fault), {"error": {"message": f"scripted HTTP {fault}", "type": "scripted"}}
        messages = body.get("messages", [])
        done = sum(len(m.get("tool_calls") or []) for m in messages if m.get("role") == "assistant")
        submit = next((t for t in body.get("tools", []) if t["function"]["name"] == "submit"), None)
        schema = submit["function"]["parameters"]["properties"]["answer"] if submit else {}
        calls = self.calls_for(episode, done, schema)
        message: dict[str, Any] = {"role": "assistant", "content": None if calls else "I give up."}
        if calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{done + i}",
                    "type": "function",
                    "function": {"name": n, "arguments": json.dumps(a)},
                }
                for i, (n, a) in enumerate(calls)
            ]
        return 200, {
            "id": f"chatcmpl-scripted-{self.requests}",
            "object": "chat.completion",
            "created": 0,
            "model": str(body.get("model", "")),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }


def _handler(state: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go as two writes: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            started = time.perf_counter()
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            status, payload = state.answer(self.headers, json.loads(raw or b"{}"))
            if payload is None:
                self.close_connection = True
                return
            body = json.dumps(payload)
            spent = {SERVER_SECONDS_HEADER: f"{time.perf_counter() - started:.6f}"}
            send_json(self, status, body, spent)

    return Handler


@contextmanager
def scripted_server(
    catalog: Path,
    script: Script,
    *,
    chunk: int = 1,
    faults: dict[tuple[str, int, int], list[Fault]] | None = None,
) -> Iterator[ScriptedServer]:
    """Run the scripted server in a thread; ``state.url`` is its base URL (``http://127.0.0.1:P/v1``)."""
    state = ScriptedServer(catalog=Catalog(catalog), script=script, chunk=chunk, faults=dict(faults or {}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state._release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def hashed_script(samples: int) -> Script:
    """A script for whole catalogs: episode (t, i) is solved on its first r samples, r = a hash of (t, i)
    modulo samples + 1 (pass rate r / samples); one gym in 5 answers at once without tools."""

    def script(task_id: str, instance: int, seed: int) -> Behaviour:
        digest = int.from_bytes(hashlib.sha256(f"{task_id}#{instance}".encode()).digest()[:8], "big")
        right = seed < digest % (samples + 1)
        if int.from_bytes(hashlib.sha256(task_id.encode()).digest()[:2], "big") % 5 == 0:
            return "skip_right" if right else "skip_wrong"
        return "right" if right else "wrong"

    return script


def main(argv: list[str] | None = None) -> int:
    """Serve :func:`hashed_script` over a catalog until interrupted (for benchmarks: its own process)."""
    parser = argparse.ArgumentParser(description="scripted OpenAI-compatible server over a catalog")
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=1, help="tool calls per reply")
    parser.add_argument("--always-right", action="store_true", help="replay the oracle on every episode")
    args = parser.parse_args(argv)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})  # the threads inherit it
    script: Script = (lambda t, i, s: "right") if args.always_right else hashed_script(args.samples)
    with scripted_server(args.catalog, script, chunk=args.chunk) as state:
        print(f"scripted server at {state.url}", flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
        print(f"requests {state.requests}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
