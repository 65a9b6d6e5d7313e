"""A toy gym (sum a hidden list) on disk and a tiny MCP server for it, for the rollout/env/policy tests.

The server follows the catalog's tool semantics (observe / helper / submit / task / reset, structured
results, isError on bad arguments, episode bookkeeping in ``_meta``) without any sandbox, so these
tests exercise the client side alone.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from pydantic import JsonValue

from codegym_mcp.schemas import GymManifest, Instance, OracleSummary, ParamSpec, ToolSpec, TraceCall

TASK_ID = "toy_sum"
TASK = "Return the sum of the hidden list of integers `xs`."
INPUTS: list[list[int]] = [[1, 2, 3], [5], [4, 4], [7, -2, 10, 1]]
META_KEY = "codegym/episode"

_INT: dict[str, JsonValue] = {"type": "integer"}
TOOLS: list[ToolSpec] = [
    ToolSpec(
        name="observe",
        kind="observe",
        description="Return the hidden input.",
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        output_schema={
            "type": "object",
            "properties": {"xs": {"type": "array", "items": _INT}},
            "required": ["xs"],
        },
    ),
    ToolSpec(
        name="add",
        kind="helper",
        description="Add two integers.",
        function="add",
        params=[
            ParamSpec(name="a", source="agent", type_schema=_INT),
            ParamSpec(name="b", source="agent", type_schema=_INT),
        ],
        input_schema={
            "type": "object",
            "properties": {"a": _INT, "b": _INT},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
        output_schema={"type": "object", "properties": {"result": _INT}, "required": ["result"]},
    ),
    ToolSpec(
        name="submit",
        kind="submit",
        description="Submit the answer; ends the episode.",
        input_schema={
            "type": "object",
            "properties": {"answer": _INT},
            "required": ["answer"],
            "additionalProperties": False,
        },
        output_schema={
            "type": "object",
            "properties": {"reward": {"type": "integer"}},
            "required": ["reward"],
        },
    ),
    ToolSpec(
        name="task",
        kind="task",
        description="Return the task statement.",
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        output_schema={"type": "object", "properties": {"task": {"type": "string"}}, "required": ["task"]},
    ),
]
RESET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"seed": {"type": ["integer", "null"]}, "instance": {"type": ["integer", "null"]}},
    "additionalProperties": False,
}


def oracle_trace(xs: list[int]) -> list[TraceCall]:
    trace = [TraceCall(tool="observe", arguments={}, result={"xs": list(xs)})]
    acc = 0
    for x in xs:
        trace.append(TraceCall(tool="add", arguments={"a": acc, "b": x}, result={"result": acc + x}))
        acc += x
    trace.append(TraceCall(tool="submit", arguments={"answer": acc}, result={"reward": 1}))
    return trace


def instances() -> list[Instance]:
    out = []
    for xs in INPUTS:
        trace = oracle_trace(xs)
        out.append(
            Instance(
                instance_id=f"i{'_'.join(str(x) for x in xs)}",
                input={"xs": list(xs)},
                expected=sum(xs),
                oracle_steps=len(trace),
                oracle_trace=trace,
            )
        )
    return out


def write_toy_catalog(root: Path, *, task_ids: tuple[str, ...] = (TASK_ID,)) -> Path:
    """Write a catalog with the toy gym under each task id; return its folder."""
    for task_id in task_ids:
        gym = root / task_id
        gym.mkdir(parents=True, exist_ok=True)
        insts = instances()
        steps = [i.oracle_steps for i in insts]
        manifest = GymManifest(
            task_id=task_id,
            problem_id=task_id,
            source="toy",
            task=TASK,
            entry_point="total",
            input_schema={"type": "object", "properties": {"xs": {"type": "array", "items": _INT}}},
            output_schema=_INT,
            tools=TOOLS,
            tools_sha256="0" * 64,
            n_instances=len(insts),
            oracle=OracleSummary(
                steps_min=min(steps), steps_max=max(steps), steps_mean=sum(steps) / len(steps)
            ),
            step_budget=12,
        )
        (gym / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
        (gym / "instances.jsonl").write_text(
            "".join(i.model_dump_json() + "\n" for i in insts), encoding="utf-8"
        )
        (gym / "tools.py").write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
    return root


@dataclass
class _Episode:
    number: int
    instance: int
    steps: int = 0
    done: bool = False
    reward: int | None = None
    end_reason: str | None = None


@dataclass
class ToyGymServer:
    """Build with :func:`toy_server`; ``server`` is the MCP server, one episode per client session."""

    task_id: str = TASK_ID
    first_instance: int = 0
    with_meta: bool = True
    step_budget: int = 12
    server: Server[Any] = field(init=False)
    fail_from_call: int | None = None
    sandbox_dies_on_add: bool = False
    add_breaks_its_schema: bool = False
    sessions: int = 0
    calls: int = 0

    def __post_init__(self) -> None:
        self.server = Server(
            "toy-gym",
            instructions=TASK,
            lifespan=self._lifespan,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    @asynccontextmanager
    async def _lifespan(self, _: Server[Any]) -> AsyncIterator[dict[str, _Episode]]:
        # Entered once per in-process connection: the connection's episode lives here.
        yield {}

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tools = [
            types.Tool(
                name=t.name,
                description=t.description,
                input_schema=t.input_schema,
                output_schema=t.output_schema,
            )
            for t in TOOLS
        ]
        tools.append(
            types.Tool(name="reset", description="Start the next episode.", input_schema=RESET_SCHEMA)
        )
        return types.ListToolsResult(tools=tools)

    def _result(
        self, ep: _Episode, payload: dict[str, Any] | None, error: str | None = None
    ) -> types.CallToolResult:
        meta = {
            META_KEY: {
                "episode_id": f"ep{ep.number}",
                "task_id": self.task_id,
                "instance_id": instances()[ep.instance].instance_id,
                "step": ep.steps,
                "step_budget": self.step_budget,
                "done": ep.done,
                "end_reason": ep.end_reason,
                "reward": ep.reward,
                "infra": ep.end_reason == "infra_error",
            }
        }
        if error is not None:
            return types.CallToolResult(
                content=[types.TextContent(text=error)], is_error=True, _meta=meta if self.with_meta else None
            )
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(payload))],
            structured_content=payload,
            _meta=meta if self.with_meta else None,
        )

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        self.calls += 1
        if self.fail_from_call is not None and self.calls >= self.fail_from_call:
            raise RuntimeError("the toy server broke")  # a server bug: a protocol-level error
        slot: dict[str, _Episode] = ctx.lifespan_context
        ep = slot.get("episode")
        if ep is None:
            ep = slot["episode"] = _Episode(number=self.sessions, instance=self.first_instance)
            self.sessions += 1
        args = params.arguments or {}
        if params.name == "reset":
            instance = args.get("instance")
            if instance is None:
                seed = args.get("seed")
                instance = random.Random(seed).randrange(len(INPUTS)) if seed is not None else ep.instance + 1
            ep = slot["episode"] = _Episode(number=ep.number + 1000, instance=int(instance) % len(INPUTS))
            return self._result(ep, {"task": TASK})
        if ep.done:
            return self._result(ep, None, "the episode is over: call reset to start the next one")
        if params.name == "task":
            return self._result(ep, {"task": TASK})
        ep.steps += 1
        xs = INPUTS[ep.instance]
        payload: dict[str, Any] | None = None
        error: str | None = None
        if params.name == "observe":
            payload = {"xs": list(xs)}
        elif params.name == "add":
            a, b = args.get("a"), args.get("b")
            if self.add_breaks_its_schema:
                payload = {"result": 0.5}  # the output schema says integer: a gym defect
            elif self.sandbox_dies_on_add:
                ep.done, ep.end_reason, ep.reward = True, "infra_error", None
                error = "sandbox failure in add: worker killed by signal 9"
            elif not isinstance(a, int) or not isinstance(b, int):
                error = f"$.a/$.b: expected int, got {a!r}, {b!r}"
            else:
                payload = {"result": a + b}
        elif params.name == "submit":
            answer = args.get("answer")
            if not isinstance(answer, int) or isinstance(answer, bool):
                error = f"$.answer: expected int, got {json.dumps(answer)}"
            else:
                ep.done, ep.end_reason = True, "submitted"
                ep.reward = int(answer == sum(xs))
                payload = {"reward": ep.reward}
        else:
            error = f"unknown tool {params.name}"
        if not ep.done and ep.steps >= self.step_budget:
            ep.done, ep.end_reason, ep.reward = True, "step_budget", 0
        return self._result(ep, payload, error)


def toy_server(
    *,
    first_instance: int = 0,
    with_meta: bool = True,
    step_budget: int = 12,
    fail_from_call: int | None = None,
) -> ToyGymServer:
    return ToyGymServer(
        first_instance=first_instance,
        with_meta=with_meta,
        step_budget=step_budget,
        fail_from_call=fail_from_call,
    )


# --------------------------------------------------------------------------- a recorded OpenAI endpoint

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openai-agent"


class RecordedOpenAI:
    """An OpenAI-compatible HTTP endpoint on 127.0.0.1 replaying recorded chat completions in order.

    Use as a context manager; ``base_url`` is what the openai client takes, ``requests`` holds
    every request body received. Replies run out -> HTTP 500 (the test sees a PolicyError).
    """

    def __init__(self, fixture: str) -> None:
        data = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
        self.replies: list[dict[str, Any]] = list(data["replies"])
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    owner.requests.append(body)
                    reply = owner.replies.pop(0) if owner.replies else None
                payload = json.dumps(
                    reply if reply is not None else {"error": {"message": "no recorded reply left"}}
                )
                self.send_response(200 if reply is not None else 500)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload.encode())))
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> RecordedOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
