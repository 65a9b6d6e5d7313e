"""The verifiers adapter, measured: oracle success, time per step against the env API, leaks.

``.venv/bin/python -m benchmarks.verifiers_adapter --catalog DIR [--timing-gyms 3 --rounds 5]
[--leak-episodes 10000] [--no-sweep]`` needs ``.venv-verifiers`` (``make bootstrap``). It starts a
catalog server (child process), a scripted OpenAI-compatible model (a thread: the oracle on seed
0, a wrong answer at once on seed 1) and the verifiers side (``codegym_verifiers._bench``, a child
process in ``.venv-verifiers``), then:

1. time per tool call on the first ``--timing-gyms`` gyms (instance 0, the scripted oracle), one
   episode at a time, interleaved gym by gym for ``--rounds`` rounds (the order of the paths
   rotates each round); each round gives each path's median call over the env API's; the table
   shows the median ratio over rounds and its spread. Every path but the first plays the same
   model-driven loop (a model request between calls):
   - ``env API, back to back``: ``CodeGymEnv.step`` with no model between steps (the other
     adapters' baseline; idle gaps between calls make every call slower, so it is shown apart);
   - ``env API``: ``CodeGymEnv.step`` inside ``play_episode`` with the OpenAI policy: the baseline;
   - ``adapter alone``: the adapter's MCP 2.0.0 session and loop, the model called directly (ours);
   - ``verifiers``: the adapter inside verifiers' ``Env.run_episode`` (ours + verifiers' harness:
     interception endpoint, trace);
2. oracle sweep: instance 0 of every gym through ``python -m codegym_verifiers.play`` (target 100%);
3. leak check (``--leak-episodes N``): N short episodes through ``Env.run_episode`` (each its own
   MCP session), then the server's live sessions (``GET /health``) and the fds, threads and RSS
   of the verifiers process and of the catalog server after a warm-up of 50 episodes and at the end.

Writes ``bench-out/verifiers.json`` and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import anyio

from codegym_mcp.runtime import Catalog, Gym
from codegym_mcp.servers import CodeGymEnv, EpisodeSpec, OpenAIPolicy, catalog_task_url, play_episode

from ._trainer_paths import REPO, catalog_server, play_env_api

VENV_PYTHON = REPO / ".venv-verifiers" / "bin" / "python"


def play_verifiers(catalog_url: str, model_url: str, *extra: str) -> list[dict[str, Any]]:
    """The per-episode records of one ``codegym_verifiers.play`` run (the summary line dropped).

    Raises:
        RuntimeError: the play command failed (its stderr tail is in the message).
    """
    command = [str(VENV_PYTHON), "-m", "codegym_verifiers.play", "--catalog-url", catalog_url]
    command += ["--model-url", model_url, "--model", "scripted", "--tag-header", "x-codegym-episode", *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"codegym_verifiers.play exited {done.returncode}: {done.stderr[-3000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [r for r in lines if "summary" not in r]


def env_api_with_model(url: str, model_url: str, gym: Gym) -> list[float]:
    """Seconds per ``CodeGymEnv.step`` of instance 0 played by the scripted model (OpenAI policy)."""

    async def run() -> list[float]:
        policy = OpenAIPolicy(model="scripted", base_url=model_url, max_turns=100_000)
        task_id = gym.task_id
        spec = EpisodeSpec(index=0, task_id=task_id, instance=0, seed=0)
        try:
            target = catalog_task_url(url, task_id, instance=0)
            async with await CodeGymEnv.connect(target, task_id=task_id) as env:
                record = await play_episode(env, spec, policy=policy, gym=gym, fresh=True)
        finally:
            await policy.aclose()
        if record.reward != 1:
            raise RuntimeError(f"the env API's oracle episode of {task_id} ended {record.end_reason}")
        return [step.latency_ms / 1000.0 for step in record.steps]

    return anyio.run(run)


class Worker:
    """``codegym_verifiers._bench`` in ``.venv-verifiers``: one JSON command and answer per line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def ask(self, **command: Any) -> dict[str, Any]:
        """Send one command, return its answer.

        Raises:
            RuntimeError: the worker exited.
        """
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"codegym_verifiers._bench exited (code {self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        return self.proc.stdin, self.proc.stdout


@contextmanager
def worker(url: str, model_url: str, tasks: list[str]) -> Iterator[Worker]:
    """Start the verifiers side and wait until its environment is loaded."""
    command = [str(VENV_PYTHON), "-m", "codegym_verifiers._bench", "--catalog-url", url]
    command += ["--model-url", model_url, "--tasks", *tasks]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        if not ready.startswith('{"ready"'):
            raise RuntimeError(f"codegym_verifiers._bench did not start (code {proc.poll()}): {ready!r}")
        yield Worker(proc)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def timing(players: dict[str, Callable[[str], list[float]]], tasks: list[str], rounds: int) -> dict[str, Any]:
    """Per path: calls, median call (ms), median ratio to the env API's median per round, spread."""
    names = list(players)
    calls: dict[str, list[float]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {n: [] for n in names}
    started = time.perf_counter()
    for r in range(rounds):
        this: dict[str, list[float]] = {n: [] for n in names}
        for g, task in enumerate(tasks):  # interleaved: every path plays the same gym back to back
            turn = (r * len(tasks) + g) % len(names)
            for name in names[turn:] + names[:turn]:
                this[name] += players[name](task)
        base = statistics.median(this["env API"])
        for name in names:
            calls[name] += this[name]
            ratios[name].append(statistics.median(this[name]) / base)
        line = " ".join(f"{n}={ratios[n][-1]:.3f}" for n in names if n != "env API")
        print(f"[timing round {r + 1}/{rounds}, {time.perf_counter() - started:.0f}s] {line}", flush=True)
    return {
        name: {
            "calls": len(calls[name]),
            "median_call_ms": round(statistics.median(calls[name]) * 1000, 3),
            "vs_env_api": round(statistics.median(ratios[name]), 3),
            "vs_env_api_min": round(min(ratios[name]), 3),
            "vs_env_api_max": round(max(ratios[name]), 3),
            "vs_env_api_rounds": [round(x, 3) for x in ratios[name]],
        }
        for name in names
    }


def _server_pid() -> int | None:
    """This process's child that serves the catalog (``codegym_mcp.servers serve``)."""
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == os.getpid() and b"serve" in cmdline and b"--all" in cmdline:
            return int(entry.name)
    return None


def _snapshot(pid: int | None) -> dict[str, int] | None:
    if pid is None:
        return None
    try:
        status = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines()
        )
        fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    except OSError:
        return None
    return {"fds": fds, "threads": int(status["Threads"]), "rss_kib": int(status["VmRSS"].split()[0])}


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/health", timeout=30) as response:
        value: dict[str, Any] = json.loads(response.read())
        return value


def leak_check(url: str, side: Worker, episodes: int, concurrency: int) -> dict[str, Any]:
    """N short episodes through verifiers (see 3.); the server measured around them."""
    pid = _server_pid()
    warmup = min(50, episodes)
    side.ask(mode="leak", episodes=warmup, concurrency=concurrency, warmup=warmup)
    server_start = _snapshot(pid)
    result = side.ask(mode="leak", episodes=episodes, concurrency=concurrency, warmup=0)
    time.sleep(1.0)  # the server ends a session when its DELETE arrives; let the last ones land
    return {
        "episodes": episodes,
        "concurrency": concurrency,
        "scored": result["scored"],
        "errors": result["errors"],
        "first_error": result.get("first_error"),
        "seconds": result["seconds"],
        "server_sessions_after": _health(url)["sessions"],
        "verifiers_process": {"start": result["start"], "end": result["end"]},
        "catalog_server": {"start": server_start, "end": _snapshot(pid)},
    }


def _print_timing(results: dict[str, Any]) -> None:
    print(f"{'path':<22} {'calls':>6} {'median call':>12} {'vs env API (median, min-max over rounds)':>42}")
    for name, r in results.items():
        spread = f"{r['vs_env_api']:.3f}x ({r['vs_env_api_min']:.3f}-{r['vs_env_api_max']:.3f})"
        print(f"{name:<22} {r['calls']:>6} {r['median_call_ms']:>9.3f} ms {spread:>42}")
    base, alone = results["env API"]["median_call_ms"], results["adapter alone"]["median_call_ms"]
    total = results["verifiers"]["median_call_ms"]
    print(
        f"verifiers call {total:.3f} ms = env API {base:.3f} + ours (adapter alone - env API) "
        f"{alone - base:.3f} + verifiers' harness (verifiers - adapter alone) {total - alone:.3f} ms (medians)"
    )


def _load() -> list[str]:
    return Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]


def main(argv: list[str] | None = None) -> None:
    from tests.servers.scripted_openai import Behaviour, scripted_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--timing-gyms", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4, help="episodes at a time (sweep, leak)")
    parser.add_argument("--no-sweep", dest="sweep", action="store_false", help="skip the oracle sweep")
    parser.add_argument("--leak-episodes", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "bench-out" / "verifiers.json")
    args = parser.parse_args(argv)
    if not VENV_PYTHON.exists():
        raise SystemExit(f"{VENV_PYTHON} is missing: run `make bootstrap` first")
    catalog = Catalog(args.catalog)
    task_ids = catalog.task_ids()
    timed = task_ids[: args.timing_gyms]
    gyms = {t: catalog.load(t) for t in timed}
    report: dict[str, Any] = {"catalog": str(args.catalog), "gyms": len(task_ids)}

    def write() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({**report, "load_average_at_end": _load()}, indent=2), encoding="utf-8"
        )

    def script(task_id: str, instance: int, seed: int) -> Behaviour:
        return "right" if seed == 0 else "skip_wrong"  # seed 1: the leak check's short episodes

    with catalog_server(args.catalog) as url, scripted_server(args.catalog, script) as model:
        with worker(url, model.url, timed) as side:
            players: dict[str, Callable[[str], list[float]]] = {
                "env API, back to back": lambda t: play_env_api(url, gyms[t])[1],
                "env API": lambda t: env_api_with_model(url, model.url, gyms[t]),
                "adapter alone": lambda t: [ms / 1000.0 for ms in side.ask(mode="direct", task=t)["step_ms"]],
                "verifiers": lambda t: [ms / 1000.0 for ms in side.ask(mode="verifiers", task=t)["step_ms"]],
            }
            if args.timing_gyms and args.rounds:
                report["timing_load_average_at_start"] = _load()
                report["timing"] = timing(players, timed, args.rounds)
                report["timing_load_average_at_end"] = _load()
                write()
                _print_timing(report["timing"])
            if args.leak_episodes:
                report["timing_load_average_at_leak_start"] = _load()
                report["leak"] = leak_check(url, side, args.leak_episodes, args.concurrency)
                print(f"[leak] {json.dumps(report['leak'])}", flush=True)
                write()
        if args.sweep:
            started = time.perf_counter()
            sweep = play_verifiers(
                url, model.url, "--instances-per-task", "1", "--concurrency", str(args.concurrency)
            )
            solved = [r for r in sweep if r["reward"] == 1.0]
            report["oracle"] = {
                "solved": len(solved),
                "of": len(sweep),
                "gyms": len(task_ids),
                "seconds": round(time.perf_counter() - started, 1),
                "unsolved": sorted(
                    f"{r['task_id']}: {r['error'] or r['end_reason']}" for r in sweep if r["reward"] != 1.0
                ),
            }
            print(f"[oracle sweep] {json.dumps(report['oracle'])}", flush=True)
    write()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
