"""Generation and serving on a local Ray cluster (2 CPUs, started once for the module).

The serve tests run ``codegym-mcp serve --all --ray ADDRESS --replicas 2`` as a process joining
the module's cluster, and play episodes through its one URL.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codegym_mcp.generator import generate, join_cluster, load_dataset, ray_executor
from codegym_mcp.schemas import EpisodeRecord

from ..._catalog_files import GENERIC, catalog_files, generate_arguments
from .._serve_helpers import FIXTURE, SERVE, serve_env

ray = pytest.importorskip("ray", reason="needs codegym-mcp[ray] (make bootstrap installs it)")

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster of 2 CPUs; yields its address (for other processes to join)."""
    join_cluster(None, num_cpus=2)  # retries a node that was slow to start on a busy machine
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


def test_ray_generation_writes_the_local_run_s_catalog_byte_for_byte_and_resumes(
    cluster: str, tmp_path: Path
) -> None:
    problems = load_dataset(f"jsonl:{GENERIC}").problems
    common = generate_arguments()
    local = generate(problems, catalog=tmp_path / "local", workers=2, **common)
    on_ray = generate(problems, catalog=tmp_path / "ray", executor=ray_executor(None, workers=2), **common)
    again = generate(problems, catalog=tmp_path / "ray", executor=ray_executor(None, workers=2), **common)
    assert local.report.gyms and on_ray.ran == len(problems)
    assert catalog_files(tmp_path / "ray") == catalog_files(tmp_path / "local")
    assert (again.skipped, again.ran) == (len(problems), 0)  # a rerun skips what the catalog holds
    assert ray.is_initialized()  # the executor leaves alone a cluster it did not start


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        except OSError:
            break
        pid = int(stat.rpartition(")")[2].split()[1])
        chain.append(pid)
    return chain


def kill_first_builder_in_flight(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first Ray actor process of this test's own cluster (a descendant of this
    process) seen building a problem: Ray titles it ``ray::_Builder.build`` while it runs one."""
    me = os.getpid()
    while not stop.is_set():
        for proc in Path("/proc").iterdir():
            if (
                proc.name.isdigit()
                and b"ray::_Builder.build" in _cmdline(proc)
                and me in _ancestors(int(proc.name))
            ):
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
                return
        time.sleep(0.02)


def test_a_ray_actor_killed_mid_problem_costs_that_problem_as_infra_and_a_rerun_finishes_the_catalog(
    cluster: str, tmp_path: Path
) -> None:
    problems = load_dataset(f"jsonl:{GENERIC}").problems
    common = generate_arguments(catalog=tmp_path / "ray")
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=kill_first_builder_in_flight, args=(killed, stop), daemon=True)
    killer.start()
    try:
        first = generate(problems, executor=ray_executor(None, workers=1), **common)
    finally:
        stop.set()
        killer.join(timeout=10)
    assert killed, "no builder was seen in flight"
    lost = [r for r in first.report.rejections if r.stage == "infra"]
    assert len(lost) == 1 and "the Ray worker died while this problem was in flight" in lost[0].reason
    held = {g.task_id for g in first.report.gyms} | {r.task_id for r in first.report.rejections}
    assert held == {
        p.task_id for p in problems
    }  # every other problem got its outcome (a new actor took over)
    again = generate(problems, executor=ray_executor(None, workers=1), **common)
    assert (again.ran, again.skipped) == (1, len(problems) - 1)  # the rerun retries the lost problem only
    assert not [r for r in again.report.rejections if r.stage == "infra"]
    assert lost[0].task_id in {g.task_id for g in again.report.gyms} | {
        r.task_id for r in again.report.rejections
    }


@dataclass
class RayFront:
    """``codegym-mcp serve --all --ray ADDRESS --replicas 2`` as a process: its URL and records."""

    process: subprocess.Popen[str]
    url: str
    record: Path
    lines: list[str]

    def records(self, key: str) -> list[EpisodeRecord]:
        path = self.record.with_name(f"{self.record.stem}.{key}{self.record.suffix}")
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return [EpisodeRecord.model_validate_json(line) for line in lines]

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/health", timeout=60) as answer:
            body: dict[str, Any] = json.load(answer)
            return body


@pytest.fixture(scope="module")
def front(cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayFront]:
    record = tmp_path_factory.mktemp("ray-serve") / "episodes.jsonl"
    argv = [*SERVE, "--all", "--catalog", str(FIXTURE), "--no-sandbox", "--ray", cluster]
    argv += ["--replicas", "2", "--port", "0", "--record", str(record)]
    process = subprocess.Popen(argv, env=serve_env(), stderr=subprocess.PIPE, encoding="utf-8")
    reader: threading.Thread | None = None
    try:
        assert process.stderr is not None
        lines: list[str] = []
        for line in process.stderr:  # the banner comes once every replica answers
            lines.append(line)
            found = re.search(r" on (http://\S+)/<task_id>/mcp over 2 Ray replicas", line)
            if found:
                # keep reading (a full pipe would block the front), keep the lines for messages
                reader = threading.Thread(target=lines.extend, args=(process.stderr,), daemon=True)
                reader.start()
                yield RayFront(process=process, url=found.group(1), record=record, lines=lines)
                break
        else:
            raise AssertionError(f"the front did not start: {''.join(lines)}")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if reader is not None:
            reader.join(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def test_oracle_episodes_over_two_ray_replicas_all_score_1_with_every_record_written(
    front: RayFront, tmp_path: Path
) -> None:
    out = tmp_path / "rollout.jsonl"
    rollout = [sys.executable, "-m", "codegym_mcp.servers", "rollout", "--url", front.url, "--catalog"]
    rollout += [str(FIXTURE), "--policy", "oracle", "--episodes", "12", "--concurrency", "6"]
    rollout += ["--out", str(out), "--min-success", "1.0"]
    done = subprocess.run(
        rollout, env=serve_env(), capture_output=True, encoding="utf-8", timeout=240, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    played = [
        EpisodeRecord.model_validate_json(line) for line in out.read_text(encoding="utf-8").splitlines()
    ]
    assert [r.reward for r in played] == [1] * 12
    time.sleep(0.5)  # the replicas write each record as its session closes
    served = {key: [r for r in front.records(key) if r.end_reason == "submitted"] for key in ("r0", "r1")}
    assert sorted(r.episode_id for r in served["r0"] + served["r1"]) == sorted(r.episode_id for r in played)
    assert served["r0"] and served["r1"]  # new sessions were spread over both replicas


def post(
    url: str, body: dict[str, Any], session: str | None = None
) -> tuple[int, dict[str, Any], str | None]:
    """POST one JSON-RPC message; (HTTP status, JSON body or {}, the mcp-session-id answered)."""
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    if session is not None:
        headers |= {"mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            raw = answer.read()
            return answer.status, (json.loads(raw) if raw else {}), answer.headers.get("mcp-session-id")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), None


def kill_replica_server(port: int) -> None:
    """SIGKILL the replica server listening on ``port`` (found by its command line)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"_ray_replica") for part in argv) and str(port).encode() in argv:
            subprocess.run(["kill", "-9", proc.name], check=True)
            return
    raise AssertionError(f"no replica server on port {port}")


def test_a_killed_replica_s_session_gets_a_clear_error_and_new_sessions_go_elsewhere(front: RayFront) -> None:
    url = f"{front.url}/Fixture_vowels/mcp?instance=2"
    status, _, session = post(url, INIT)
    assert status == 200 and session is not None
    key = session.split("-")[0]
    post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    replica = next(r for r in front.health()["replicas"] if r["key"] == key)
    kill_replica_server(int(replica["url"].rsplit(":", 1)[1]))
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "observe", "arguments": {}}}
    status, lost, _ = post(url, call, session)
    message = lost["error"]["message"]
    assert status in (404, 502) and f"replica {key}" in message and lost["id"] == 2
    assert "gone" in message or "did not answer" in message
    _, _, fresh = post(url, INIT)
    assert fresh is not None and not fresh.startswith(f"{key}-")  # the new session went elsewhere
    post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, fresh)
    _, observed, _ = post(url, call, fresh)
    assert observed["result"]["structuredContent"] == {"s": "AEIOUx"}
    deadline = time.monotonic() + 240
    while (
        time.monotonic() < deadline
        and len([r for r in front.health()["replicas"] if r["status"] == "ok"]) < 2
    ):
        time.sleep(0.5)
    assert [r["status"] for r in front.health()["replicas"]].count("ok") == 2  # a new replica took its place


def test_sigterm_stops_the_front_and_every_replica_with_exit_0(front: RayFront) -> None:
    front.process.send_signal(signal.SIGTERM)
    assert front.process.wait(timeout=120) == 0, "".join(front.lines)
    left = [
        p.name
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and str(front.record.parent).encode() in _cmdline(p)
    ]  # every replica server (its --record names the folder) is gone
    assert left == []
    ended = [r.end_reason for key in ("r0", "r1", "r2") for r in front.records(key)]
    assert "shutdown" in ended  # the session left open in the killed-replica test's survivor ended


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""
