"""Soak and load of one catalog server: ``python -m benchmarks.soak`` (also ``make soak``).

Two runs against ``codegym-mcp serve --all`` in its own process (``--record`` on, so every episode
the server ends is counted there too):

1. soak: N oracle episodes, ``--per-session`` of them one after another in each MCP session (the
   harness resets it), ``--concurrency`` sessions at a time, played by a lean JSON-RPC client
   (benchmarks/_lean_client.py; ``--client env``: CodeGymEnv over mcp.Client, whose own CPU time
   per episode is about twice the server's). Every ``--sample-every`` episodes it samples the
   server's RSS (``/proc/PID/status`` VmRSS of the server process) and, apart, its sandbox
   workers (their count and the RSS of every process under the server). Growth is reported from
   the sample after the warm-up (the first sample, every gym touched once) to the last one;
   the client's and the server's CPU seconds tell where an episode's time goes.
2. sessions: S sessions opened at once, each makes its first oracle call, and all are held open
   (checked at ``GET /health``: sessions and episodes running) before any goes on; then each plays
   its oracle episode to the end (``--hold-only``: closes instead, its episode recorded as
   disconnected). Reports the sessions held, the server's RSS with them open, the episodes scored 1
   and the records the server wrote.

Episodes per second are divided by the cores the machine has (``os.cpu_count()``), client and
server sharing them. Results go to ``--out`` (JSON) and stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel

from benchmarks._lean_client import LeanTally, play_lean
from benchmarks._server_probe import RssSample, count_lines, cpu_seconds, health, rss_kb, sample, server
from codegym_mcp.runtime import Catalog, default_catalog_dir, episode_count
from codegym_mcp.schemas import EpisodeRecord
from codegym_mcp.servers import CodeGymEnv, Observation, ToolCall
from codegym_mcp.servers.rollout._connectors import http_connector, shared_http_client
from codegym_mcp.servers.rollout._policies import OraclePolicy
from codegym_mcp.servers.rollout._policy_types import Agent, EpisodeContext
from codegym_mcp.servers.rollout._rollout import EpisodeSpec, plan_episodes, run_rollouts

REPO = Path(__file__).resolve().parent.parent


class SoakResult(BaseModel):
    episodes: int
    concurrency: int
    per_session: int
    client: str
    sandbox: bool
    scored_1: int
    infra_errors: int
    client_records: int
    server_records: int
    seconds: float
    episodes_per_s: float
    episodes_per_s_per_core: float
    rss_start_kb: int
    rss_first_kb: int
    rss_last_kb: int
    rss_growth_pct: float
    workers_rss_first_kb: int
    workers_rss_last_kb: int
    client_cpu_s: float
    server_cpu_s: float
    samples: list[RssSample]


class SessionsResult(BaseModel):
    sessions: int
    played: str
    held_at_health: int
    episodes_running_at_health: int
    scored_1: int
    server_records: int
    rss_idle_kb: int
    rss_held_kb: int
    kb_per_session: float
    open_seconds: float
    total_seconds: float
    calls_ok: int | None = None


def session_plan(gyms: list[tuple[str, int]], *, episodes: int, per_session: int) -> list[EpisodeSpec]:
    """Round-robin over the gyms, ``per_session`` episodes (over the gym's instances) per MCP session."""
    specs = []
    for i in range(episodes):
        group = i // per_session
        task_id, instances = gyms[group % len(gyms)]
        specs.append(
            EpisodeSpec(index=i, task_id=task_id, instance=i % max(1, instances), seed=i, group=group)
        )
    return specs


async def soak(
    catalog: Catalog, base: str, pid: int, record: Path, args: argparse.Namespace, key: str
) -> SoakResult:
    gyms = [(t, episode_count(catalog.load(t))) for t in catalog.task_ids()]
    if args.sample_every % args.per_session:
        raise SystemExit(f"--sample-every ({args.sample_every}) must be a multiple of --per-session")
    specs = session_plan(gyms, episodes=args.episodes, per_session=args.per_session)
    start = sample(pid, 0, 0.0)
    cpu_start = (cpu_seconds(os.getpid()), cpu_seconds(pid))
    samples: list[RssSample] = []
    scored = infra = played = 0
    started = time.perf_counter()
    async with shared_http_client(max_connections=max(8, args.concurrency * 2)) as http:
        connect = http_connector(base, http_client=http, harness_key=key)
        tally = LeanTally()
        for first in range(0, len(specs), args.sample_every):
            chunk = specs[first : first + args.sample_every]
            if args.client == "lean":
                sessions = [
                    (catalog.load(group[0].task_id), [s.instance for s in group])
                    for group in (
                        chunk[i : i + args.per_session] for i in range(0, len(chunk), args.per_session)
                    )
                ]
                await play_lean(http, base, sessions, key=key, concurrency=args.concurrency, tally=tally)
                scored, infra, played = tally.scored_1, tally.failed, tally.episodes + tally.failed
            else:
                records, _ = await run_rollouts(
                    chunk,
                    connect=connect,
                    policy=OraclePolicy(catalog),
                    catalog=catalog,
                    concurrency=args.concurrency,
                )
                scored += sum(1 for r in records if r.reward == 1)
                infra += sum(1 for r in records if r.end_reason == "infra_error")
                played += len(records)
            done = first + len(chunk)
            now = await anyio.to_thread.run_sync(health, base)
            samples.append(
                sample(pid, done, time.perf_counter() - started).model_copy(
                    update={"health_sessions": now["sessions"], "health_workers": now["workers"]}
                )
            )
            last = samples[-1]
            print(
                f"soak: {done} episodes, {scored} scored 1, {infra} infra errors, {last.seconds:.0f} s, "
                f"server RSS {last.rss_kb} kB, {last.workers} workers ({last.processes} processes, "
                f"{last.workers_rss_kb} kB), /health: {last.health_sessions} sessions, {last.health_workers} workers",
                flush=True,
            )
    if tally.failures:
        print(f"soak: lean client failures (first {len(tally.failures)}): {tally.failures}", flush=True)
    seconds = time.perf_counter() - started
    client_cpu, server_cpu = cpu_seconds(os.getpid()) - cpu_start[0], cpu_seconds(pid) - cpu_start[1]
    await anyio.sleep(1.0)  # the server writes the last records as their sessions close
    first_kb, last_kb = samples[0].rss_kb, samples[-1].rss_kb
    return SoakResult(
        episodes=len(specs),
        concurrency=args.concurrency,
        per_session=args.per_session,
        client=args.client,
        sandbox=not args.no_sandbox,
        scored_1=scored,
        infra_errors=infra,
        client_records=played,
        server_records=count_lines(record),
        seconds=round(seconds, 1),
        episodes_per_s=round(len(specs) / seconds, 2),
        episodes_per_s_per_core=round(len(specs) / seconds / (os.cpu_count() or 1), 2),
        rss_start_kb=start.rss_kb,
        rss_first_kb=first_kb,
        rss_last_kb=last_kb,
        rss_growth_pct=round(100.0 * (last_kb - first_kb) / first_kb, 2),
        workers_rss_first_kb=samples[0].workers_rss_kb,
        workers_rss_last_kb=samples[-1].workers_rss_kb,
        client_cpu_s=round(client_cpu, 1),
        server_cpu_s=round(server_cpu, 1),
        samples=samples,
    )


class _HoldingAgent:
    """The oracle's agent that waits, after its first call, until every session has made one."""

    def __init__(self, inner: Agent, gate: _Gate) -> None:
        self._inner = inner
        self._gate = gate
        self._calls = 0

    async def act(self, obs: Observation) -> ToolCall | None:
        self._calls += 1
        if self._calls == 2:
            await self._gate.arrive()
            if not self._gate.play:
                return None  # hold only: the session closes with its episode running (recorded)
        return await self._inner.act(obs)


class _Gate:
    """Counts sessions that made their first call; at the last one samples /health and RSS."""

    def __init__(self, expected: int, *, base: str, pid: int, play: bool, timeout: float) -> None:
        self.expected, self.base, self.pid, self.play, self.timeout = expected, base, pid, play, timeout
        self.arrived = 0
        self.all_in = anyio.Event()
        self.held: tuple[int, int, int] | None = None  # sessions, episodes running, RSS kB
        self.started = time.perf_counter()
        self.seconds = -1.0

    async def arrive(self) -> None:
        self.arrived += 1
        if self.arrived == self.expected:
            self.seconds = time.perf_counter() - self.started
            body = await anyio.to_thread.run_sync(health, self.base)
            self.held = (int(body["sessions"]), int(body["episodes_running"]), rss_kb(self.pid))
            print(
                f"sessions: {self.held[0]} held, {self.held[1]} episodes running, RSS {self.held[2]} kB",
                flush=True,
            )
            self.all_in.set()
        with anyio.move_on_after(self.timeout):
            await self.all_in.wait()


class _HoldingPolicy:
    name = "oracle"

    def __init__(self, gate: _Gate, catalog: Catalog) -> None:
        self._oracle = OraclePolicy(catalog)
        self._gate = gate

    def agent(self, ctx: EpisodeContext) -> Agent:
        return _HoldingAgent(self._oracle.agent(ctx), self._gate)


async def sessions(
    catalog: Catalog, base: str, pid: int, record: Path, args: argparse.Namespace
) -> SessionsResult:
    gyms = [(t, episode_count(catalog.load(t))) for t in catalog.task_ids()]
    specs = plan_episodes(gyms, episodes=args.sessions, seed=0)
    before = count_lines(record)
    rss_idle = rss_kb(pid)
    gate = _Gate(len(specs), base=base, pid=pid, play=not args.hold_only, timeout=args.hold_timeout)
    connections = args.max_connections or 2 * len(specs) + 16  # each session keeps a GET stream open
    async with shared_http_client(max_connections=connections) as http:
        inner = http_connector(base, http_client=http, read_timeout=600.0)
        opening = anyio.Semaphore(args.open_at_once)  # sessions open a batch at a time, then stay open

        async def connect(spec: EpisodeSpec) -> CodeGymEnv:
            async with opening:
                return await inner(spec)

        records, _ = await run_rollouts(
            specs,
            connect=connect,
            policy=_HoldingPolicy(gate, catalog),
            catalog=catalog,
            concurrency=len(specs),
        )
    total = time.perf_counter() - gate.started
    await anyio.sleep(1.0)  # the server writes the last records as their sessions close
    held_sessions, running, rss_held = gate.held or (0, 0, rss_kb(pid))
    return SessionsResult(
        sessions=len(specs),
        played="oracle episodes" if gate.play else "one call each, then closed",
        held_at_health=held_sessions,
        episodes_running_at_health=running,
        scored_1=sum(1 for r in records if r.reward == 1),
        server_records=count_lines(record) - before,
        rss_idle_kb=rss_idle,
        rss_held_kb=rss_held,
        kb_per_session=round((rss_held - rss_idle) / max(1, held_sessions), 1),
        open_seconds=round(gate.seconds, 1),
        total_seconds=round(total, 1),
    )


_JSON = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


async def light_sessions(base: str, pid: int, record: Path, args: argparse.Namespace) -> SessionsResult:
    """S sessions from a minimal JSON-RPC client (no SDK): initialize, one ``observe`` call, all
    held open at once, then closed with DELETE; the server records each episode (one step) as
    ``disconnected``."""
    import httpx2

    catalog = Catalog(args.catalog)
    tasks = catalog.task_ids()
    before = count_lines(record)
    rss_idle = rss_kb(pid)
    gate = _Gate(args.sessions, base=base, pid=pid, play=False, timeout=args.hold_timeout)
    opening = anyio.Semaphore(args.open_at_once)
    ok = [0]
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "soak", "version": "1"},
        },
    }
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "observe", "arguments": {}}}
    limits = httpx2.Limits(
        max_connections=args.open_at_once * 2, max_keepalive_connections=args.open_at_once * 2
    )
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(600.0), limits=limits) as http:

        async def one(i: int) -> None:
            url = f"{base}/{tasks[i % len(tasks)]}/mcp"
            async with opening:
                opened = await http.post(url, json=init, headers=_JSON)
                session = opened.headers.get("mcp-session-id")
                if opened.status_code != 200 or session is None:
                    await gate.arrive()
                    return
                headers = {**_JSON, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
                await http.post(
                    url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
                )
                result = (await http.post(url, json=call, headers=headers)).json()
                ok[0] += "result" in result and not result["result"].get("isError")
            await gate.arrive()
            async with opening:
                await http.delete(url, headers=headers)

        async with anyio.create_task_group() as tg:
            for i in range(args.sessions):
                tg.start_soon(one, i)
    total = time.perf_counter() - gate.started
    await anyio.sleep(1.0)
    held_sessions, running, rss_held = gate.held or (0, 0, rss_kb(pid))
    return SessionsResult(
        sessions=args.sessions,
        played="light client: one observe call each, held, then DELETE",
        held_at_health=held_sessions,
        episodes_running_at_health=running,
        scored_1=0,
        server_records=count_lines(record) - before,
        rss_idle_kb=rss_idle,
        rss_held_kb=rss_held,
        kb_per_session=round((rss_held - rss_idle) / max(1, held_sessions), 1),
        open_seconds=round(gate.seconds, 1),
        total_seconds=round(total, 1),
        calls_ok=ok[0],
    )


def _records_ok(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        EpisodeRecord.model_validate_json(line)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    catalog = Catalog(args.catalog)
    out: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "catalog": str(args.catalog),
        "gyms": len(catalog.task_ids()),
    }
    extra = ["--max-sessions", str(max(args.sessions + 16, 10_000))] + (
        ["--no-sandbox"] if args.no_sandbox else []
    )
    with tempfile.TemporaryDirectory(prefix="codegym-soak-") as tmp:
        key = secrets.token_urlsafe(16)
        if args.episodes:
            record = Path(tmp) / "soak.jsonl"
            with server(args.catalog, record, workers=args.workers, extra=extra, key=key) as (base, pid):
                out["soak"] = (await soak(catalog, base, pid, record, args, key)).model_dump()
            _records_ok(record)
        if args.sessions:
            record = Path(tmp) / "sessions.jsonl"
            held = [*extra, "--idle-timeout", "0"]  # sessions wait at the gate longer than any idle timeout
            with server(args.catalog, record, workers=args.workers, extra=held, key=key) as (base, pid):
                run = (
                    light_sessions(base, pid, record, args)
                    if args.light
                    else sessions(catalog, base, pid, record, args)
                )
                out["sessions"] = (await run).model_dump()
            _records_ok(record)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--catalog", type=Path, default=None, help="catalog (default: the demo's, else the default)"
    )
    parser.add_argument("--episodes", type=int, default=20_000, help="soak episodes (0 skips; default 20000)")
    parser.add_argument("--concurrency", type=int, default=8, help="soak: sessions at a time (default 8)")
    parser.add_argument(
        "--per-session",
        type=int,
        default=50,
        help="soak: episodes played one after another in one MCP session (reset by the harness; default 50)",
    )
    parser.add_argument(
        "--client",
        choices=("lean", "env"),
        default="lean",
        help="soak: a raw JSON-RPC client (lean, default) or CodeGymEnv over mcp.Client (env)",
    )
    parser.add_argument("--sample-every", type=int, default=1000, help="episodes between RSS samples")
    parser.add_argument(
        "--sessions", type=int, default=1024, help="sessions held at once (0 skips; default 1024)"
    )
    parser.add_argument(
        "--max-connections", type=int, default=0, help="client HTTP connections (0: two per session)"
    )
    parser.add_argument(
        "--open-at-once", type=int, default=64, help="sessions run: connects in flight at once (default 64)"
    )
    parser.add_argument(
        "--light", action="store_true", help="sessions run: a minimal JSON-RPC client (one observe call each)"
    )
    parser.add_argument(
        "--hold-only", action="store_true", help="sessions run: one call each, held, then closed"
    )
    parser.add_argument(
        "--hold-timeout", type=float, default=600.0, help="seconds to wait for all sessions open"
    )
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers of the server (default 2)")
    parser.add_argument("--no-sandbox", action="store_true", help="serve without nsjail (unsafe)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-out" / "soak.json")
    args = parser.parse_args(argv)
    if args.catalog is None:
        demo = REPO / "demo-out" / "catalog"
        args.catalog = demo if demo.is_dir() else default_catalog_dir()
    result = anyio.run(main_async, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
