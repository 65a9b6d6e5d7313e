"""``make bench``: where the time goes, as medians and ratios, written to bench-out/bench.{json,md}.

1. One tool call: a bare python call of a trivial tool; the sandbox round trip of a gym tool
   (``WorkerPool.call``, no MCP); the *protocol floor* (the trivial tool served by the same MCP
   SDK over streamable HTTP); and a gym tool through our catalog server + nsjail sandbox over
   streamable HTTP. Target: ours within 1.5x of the floor.
2. Oracle episodes per second over HTTP at increasing concurrency (1, 2, 4, 8, 16, 32): one MCP
   session per episode, the server in its own process. Target: rising until the cores saturate.
3. Generation throughput on HumanEval: ``codegym-mcp generate`` on the first N problems.

Every figure is a median (of calls, or of repeated runs). The catalog is the demo one (the
default catalog ``make demo`` builds); without it, the repository's fixture catalog.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import anyio
from mcp import Client
from mcp_types import RequestParamsMeta
from pydantic import BaseModel, JsonValue

from codegym_mcp.runtime import (
    Catalog,
    Gym,
    Isolation,
    SandboxConfig,
    WorkerPool,
    default_catalog_dir,
    default_isolation,
    encode,
)
from codegym_mcp.servers.mcp._catalog_server import catalog_task_url
from codegym_mcp.servers.mcp._server import HARNESS_KEY_META
from codegym_mcp.servers.rollout._connectors import (
    catalog_subprocess,
    http_connector,
    server_subprocess,
    shared_http_client,
)
from codegym_mcp.servers.rollout._policies import OraclePolicy
from codegym_mcp.servers.rollout._rollout import RolloutSummary, plan_episodes, run_rollouts

from ._floor_server import build as build_floor

REPO = Path(__file__).resolve().parent.parent
FIXTURE_CATALOG = REPO / "tests" / "fixtures" / "catalog"
_GENERIC = frozenset({"observe", "submit", "task", "reset"})


class ToolCallBench(BaseModel):
    task_id: str
    tool: str
    calls: int
    bare_call_us: float
    sandbox_call_ms: float
    floor_http_ms: float
    ours_http_ms: float
    ours_http_p95_ms: float
    floor_http_p95_ms: float
    ratio_ours_to_floor: float
    target_ratio: float = 1.5


class ThroughputPoint(BaseModel):
    concurrency: int
    episodes: int
    episodes_per_second: float
    runs: list[float]
    success_rate: float
    latency_p50_ms: float
    latency_p95_ms: float


class GenerationBench(BaseModel):
    dataset: str
    problems: int
    gyms_verified: int
    wall_seconds: float
    report_seconds: float
    problems_per_second: float
    workers: int


class BenchResult(BaseModel):
    catalog: str
    gyms: int
    isolation: str
    cores: int
    python: str
    machine: str
    tool_call: ToolCallBench
    throughput: list[ThroughputPoint]
    generation: GenerationBench | None
    generation_note: str | None = None
    seconds: float
    load_average: list[float] = []  # 1-minute load before and after: other jobs on the machine skew figures


# --------------------------------------------------------------------------- (1) one tool call


def _pick_call(catalog: Catalog) -> tuple[Gym, int, str, dict[str, JsonValue]]:
    """The first problem-tool call of an oracle trace (a real gym tool with real arguments)."""
    for task_id in catalog.task_ids():
        gym = catalog.load(task_id)
        for index, instance in enumerate(gym.instances):
            for call in instance.oracle_trace:
                if call.tool not in _GENERIC:
                    return gym, index, call.tool, dict(call.arguments)
    raise SystemExit(f"no gym in {catalog.path} has a problem tool in its oracle trace: nothing to time")


def _bare_call_us(repeats: int = 20000) -> float:
    add = build_floor()._tool_manager.get_tool("add")  # the floor's own function, called directly
    assert add is not None
    fn = add.fn
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(repeats):
            fn(1, 2)
        samples.append((time.perf_counter() - started) / repeats * 1e6)
    return statistics.median(samples)


async def _sandbox_call_ms(
    gym: Gym, tool: str, arguments: dict[str, JsonValue], *, isolation: Isolation, calls: int
) -> float:
    from codegym_mcp.runtime import CallFailed, coerce

    spec = next(t for t in gym.manifest.tools if t.name == tool)
    instance = gym.instances[0]
    args: list[Any] = []
    for param in spec.params:
        if param.source == "agent":
            args.append(encode(coerce(arguments[param.name], param.type_schema)))
        elif param.source == "hidden":
            args.append(instance.input[param.hidden_key or param.name])
        else:
            args.append(None)
    samples = []
    async with WorkerPool(SandboxConfig(isolation=isolation), size=1) as pool:
        for i in range(calls + 10):
            started = time.perf_counter()
            # A stateful tool may reject a None state: that is still one full round trip.
            with contextlib.suppress(CallFailed):
                await pool.call(source=gym.tools_source, function=spec.function or tool, args=args)
            if i >= 10:
                samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


class _Caller:
    """One warm MCP session calling one tool; keeps a gym episode under its step budget."""

    def __init__(
        self, client: Client, tool: str, arguments: dict[str, Any], reset: dict[str, Any] | None
    ) -> None:
        self.client, self.tool, self.arguments, self.reset = client, tool, arguments, reset
        self.harness: RequestParamsMeta | None = None
        self.samples: list[float] = []
        self._used, self._budget = 0, 1 << 30

    async def batch(self, calls: int, *, keep: bool = True) -> None:
        for _ in range(calls):
            if self.reset is not None and self._used >= self._budget - 1:
                await self.client.call_tool("reset", self.reset, meta=self.harness)  # untimed
                self._used = 0
            started = time.perf_counter()
            result = await self.client.call_tool(self.tool, self.arguments)
            elapsed = (time.perf_counter() - started) * 1000
            if result.is_error:
                raise SystemExit(f"bench call {self.tool}({self.arguments}) failed: {result.content}")
            meta = (result.meta or {}).get("codegym/episode", {})
            self._used, self._budget = int(meta.get("step", 0)), int(meta.get("step_budget", self._budget))
            if keep:
                self.samples.append(elapsed)


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(0.95 * len(ordered)) - 1)]


async def bench_tool_call(catalog: Catalog, *, no_sandbox: bool, calls: int) -> ToolCallBench:
    gym, index, tool, arguments = _pick_call(catalog)
    isolation: Isolation = "none" if no_sandbox else "nsjail"
    print(
        f"[1] one tool call: {gym.task_id}.{tool}({json.dumps(arguments)[:60]}), {calls} calls each",
        flush=True,
    )
    bare = _bare_call_us()
    sandbox = await _sandbox_call_ms(gym, tool, arguments, isolation=isolation, calls=calls)
    floor_cmd = [sys.executable, "-m", "benchmarks._floor_server"]
    key = secrets.token_urlsafe(24)
    async with (
        server_subprocess(floor_cmd) as floor_base,
        catalog_subprocess(catalog.path, no_sandbox=no_sandbox, harness_key=key) as ours_base,
        Client(f"{floor_base}/mcp", mode="legacy", cache=None) as floor_client,
        Client(
            catalog_task_url(ours_base, gym.task_id, instance=index), mode="legacy", cache=None
        ) as ours_client,
    ):
        floor_caller = _Caller(floor_client, "add", {"a": 1, "b": 2}, None)
        ours_caller = _Caller(ours_client, tool, arguments, {"instance": index})
        ours_caller.harness = cast(RequestParamsMeta, {HARNESS_KEY_META: key})
        for caller in (floor_caller, ours_caller):
            await caller.client.list_tools()
            await caller.batch(20, keep=False)  # warm-up
        # Interleaved batches: background load on a shared machine hits both paths alike.
        rounds = 10
        for _ in range(rounds):
            await floor_caller.batch(max(1, calls // rounds))
            await ours_caller.batch(max(1, calls // rounds))
    floor, ours = floor_caller.samples, ours_caller.samples
    floor_ms, ours_ms = statistics.median(floor), statistics.median(ours)
    return ToolCallBench(
        task_id=gym.task_id,
        tool=tool,
        calls=calls,
        bare_call_us=bare,
        sandbox_call_ms=sandbox,
        floor_http_ms=floor_ms,
        ours_http_ms=ours_ms,
        floor_http_p95_ms=_p95(floor),
        ours_http_p95_ms=_p95(ours),
        ratio_ours_to_floor=ours_ms / floor_ms,
    )


# --------------------------------------------------------------------------- (2) episodes per second


async def bench_throughput(
    catalog: Catalog, *, no_sandbox: bool, levels: Sequence[int], episodes: int, repeats: int
) -> list[ThroughputPoint]:
    gyms = [(t, len(catalog.load(t).instances)) for t in catalog.task_ids()]
    points = []
    async with catalog_subprocess(catalog.path, no_sandbox=no_sandbox) as base, shared_http_client() as http:
        connect = http_connector(base, http_client=http)
        warm = plan_episodes(gyms, episodes=min(len(gyms), 64))
        await run_rollouts(
            warm, connect=connect, policy=OraclePolicy(catalog), catalog=catalog, concurrency=8
        )
        runs: dict[int, list[RolloutSummary]] = {level: [] for level in levels}
        for r in range(repeats):
            # Levels round-robin within each repeat, so background load spreads over all of them.
            for level in levels:
                # Enough episodes that filling and draining K slots does not dominate the run.
                specs = plan_episodes(gyms, episodes=max(episodes, 6 * level), seed=r)
                _, summary = await run_rollouts(
                    specs, connect=connect, policy=OraclePolicy(catalog), catalog=catalog, concurrency=level
                )
                runs[level].append(summary)
                print(
                    f"[2] run {r + 1}/{repeats}, concurrency {level:>2}: {summary.episodes_per_second:6.1f} episodes/s"
                )
        for level in levels:
            summaries = sorted(runs[level], key=lambda s: s.episodes_per_second)
            mid = summaries[len(summaries) // 2]
            points.append(
                ThroughputPoint(
                    concurrency=level,
                    episodes=mid.episodes,
                    episodes_per_second=mid.episodes_per_second,
                    runs=[s.episodes_per_second for s in runs[level]],
                    success_rate=min(s.success_rate for s in summaries),
                    latency_p50_ms=mid.latency_p50_ms,
                    latency_p95_ms=mid.latency_p95_ms,
                )
            )
    return points


# --------------------------------------------------------------------------- (3) generation


def bench_generation(*, limit: int, no_sandbox: bool) -> GenerationBench | None:
    with tempfile.TemporaryDirectory(prefix="codegym-bench-") as tmp:
        out = Path(tmp) / "catalog"
        command = [sys.executable, "-m", "codegym_mcp.servers", "generate", "--dataset", "humaneval"]
        command += ["--limit", str(limit), "--out", str(out)] + (["--no-sandbox"] if no_sandbox else [])
        print(f"[3] generation: {' '.join(command[2:])}", flush=True)
        started = time.perf_counter()
        done = subprocess.run(
            command, capture_output=True, text=True, encoding="utf-8", timeout=1800, check=False
        )
        wall = time.perf_counter() - started
        report_file = out / "report.json"
        if done.returncode != 0 or not report_file.is_file():
            print(f"[3] generation failed (exit {done.returncode}): {done.stderr[-800:]}", file=sys.stderr)
            return None
        report = json.loads(report_file.read_text(encoding="utf-8"))
    seconds = float(report.get("seconds") or wall)
    return GenerationBench(
        dataset="humaneval",
        problems=int(report.get("problems_read", limit)),
        gyms_verified=int(report.get("gyms_verified", 0)),
        wall_seconds=wall,
        report_seconds=seconds,
        problems_per_second=int(report.get("problems_read", limit)) / seconds,
        workers=os.cpu_count() or 1,
    )


# --------------------------------------------------------------------------- report


def to_markdown(result: BenchResult, command: str) -> str:
    t = result.tool_call
    lines = [
        f"Command: `{command}` — catalog `{result.catalog}` ({result.gyms} gyms), isolation {result.isolation}, "
        f"{result.cores} cores, Python {result.python}; 1-min load average "
        f"{' -> '.join(f'{x:.1f}' for x in result.load_average)} (other jobs skew the figures).",
        "",
        f"**One tool call** (median of {t.calls}; `{t.task_id}.{t.tool}` for the gym tool)",
        "",
        "| path | median | p95 | vs floor |",
        "|---|---:|---:|---:|",
        f"| bare python call of a trivial tool | {t.bare_call_us:.2f} µs | | |",
        f"| sandbox round trip (WorkerPool.call, gym tool, no MCP) | {t.sandbox_call_ms:.2f} ms | | |",
        f"| MCP protocol floor: trivial tool, same SDK, streamable HTTP | {t.floor_http_ms:.2f} ms | "
        f"{t.floor_http_p95_ms:.2f} ms | 1.00x |",
        f"| codegym-mcp: gym tool via catalog server + {result.isolation} sandbox, streamable HTTP | "
        f"{t.ours_http_ms:.2f} ms | {t.ours_http_p95_ms:.2f} ms | **{t.ratio_ours_to_floor:.2f}x** "
        f"(target <= {t.target_ratio}x) |",
        "",
        "**Oracle episodes per second over HTTP** (one MCP session per episode; median of runs)",
        "",
        "| concurrency | episodes/s (median) | vs concurrency 1 | best run | tool p50 | tool p95 | oracle success |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = result.throughput[0].episodes_per_second if result.throughput else 1.0
    for p in result.throughput:
        lines.append(
            f"| {p.concurrency} | {p.episodes_per_second:.1f} | {p.episodes_per_second / base:.2f}x | "
            f"{max(p.runs):.1f} | {p.latency_p50_ms:.1f} ms | {p.latency_p95_ms:.1f} ms | {p.success_rate:.0%} |"
        )
    g = result.generation
    lines += ["", "**Generation throughput** (`codegym-mcp generate --dataset humaneval --limit N`)", ""]
    if g is None:
        lines.append(result.generation_note or "generation failed: see the bench's stderr")
    else:
        lines += [
            "| problems | gyms verified | seconds (pipeline) | seconds (wall, incl. start-up) | problems/s |",
            "|---:|---:|---:|---:|---:|",
            f"| {g.problems} | {g.gyms_verified} | {g.report_seconds:.1f} | {g.wall_seconds:.1f} | "
            f"{g.problems_per_second:.2f} |",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, help="default: the demo catalog, else tests/fixtures/catalog")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--calls", type=int, default=300, help="timed tool calls per path")
    parser.add_argument("--levels", default="1,2,4,8,16,32", help="concurrency levels")
    parser.add_argument("--episodes", type=int, default=96, help="episodes per run and level")
    parser.add_argument("--repeats", type=int, default=3, help="runs per level (median)")
    parser.add_argument("--gen-limit", type=int, default=40, help="HumanEval problems to generate (0 skips)")
    parser.add_argument("--no-sandbox", action="store_true", help="without nsjail (warns loudly)")
    args = parser.parse_args(argv)
    catalog_dir = args.catalog
    if catalog_dir is None:
        demo = default_catalog_dir()
        catalog_dir = demo if (demo / "report.json").is_file() else FIXTURE_CATALOG
    catalog = Catalog(catalog_dir)
    isolation = default_isolation(no_sandbox=args.no_sandbox)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()

    async def run_async() -> tuple[ToolCallBench, list[ThroughputPoint]]:
        tool = await bench_tool_call(catalog, no_sandbox=args.no_sandbox, calls=args.calls)
        points = await bench_throughput(
            catalog, no_sandbox=args.no_sandbox, levels=levels, episodes=args.episodes, repeats=args.repeats
        )
        return tool, points

    tool, points = anyio.run(run_async)
    generation = (
        bench_generation(limit=args.gen_limit, no_sandbox=args.no_sandbox) if args.gen_limit else None
    )
    result = BenchResult(
        catalog=str(catalog_dir),
        gyms=len(catalog.task_ids()),
        isolation=isolation,
        cores=os.cpu_count() or 1,
        python=platform.python_version(),
        machine=platform.machine(),
        tool_call=tool,
        throughput=points,
        generation=generation,
        generation_note=None if args.gen_limit else "not run (--gen-limit 0)",
        seconds=time.perf_counter() - started,
        load_average=[load_before, os.getloadavg()[0]],
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    given = list(argv) if argv is not None else sys.argv[1:]
    command = "python -m benchmarks.run " + " ".join(given) if given else "make bench"
    markdown = to_markdown(result, command)
    (args.out / "bench.md").write_text(markdown, encoding="utf-8")
    print()
    print(markdown)
    print(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.md'} in {result.seconds:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
