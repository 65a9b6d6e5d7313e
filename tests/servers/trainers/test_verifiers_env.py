"""The verifiers adapter (integrations/verifiers, its own venv): episodes through verifiers' own Env.

The catalog server runs from this venv; ``python -m codegym_verifiers.play`` runs in
``.venv-verifiers`` (verifiers 0.4.0, mcp 2.0.0) and plays each row through ``Env.serving`` and
``Env.run_episode`` against a scripted OpenAI-compatible model on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest

from codegym_mcp.runtime import Catalog
from codegym_mcp.servers import (
    EpisodeContext,
    EpisodeSpec,
    Observation,
    RandomPolicy,
    ToolInfo,
    http_connector,
    run_rollouts,
)
from codegym_mcp.servers.mcp._server import ServeOptions, gym_instructions
from codegym_mcp.servers.mcp._sessions import AUTH_TOKEN_ENV
from codegym_mcp.servers.trainers.local import catalog_server_process

from ..._openai_http import send_json
from ..scripted_openai import Behaviour, ScriptedServer, scripted_server
from ._harness import FIXTURE, catalog_server, fixture_episodes, health

VENV_PYTHON = Path(__file__).resolve().parents[3] / ".venv-verifiers" / "bin" / "python"
needs_venv = pytest.mark.skipif(
    not VENV_PYTHON.exists(),
    reason=f"{VENV_PYTHON} is missing: `make bootstrap` creates it (verifiers' own venv)",
)


def play(
    catalog_url: str, model_url: str, *extra: str, token: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the verifiers play command (``token`` in ``$CODEGYM_AUTH_TOKEN``); its records and its summary."""
    command = [str(VENV_PYTHON), "-m", "codegym_verifiers.play", "--catalog-url", catalog_url]
    command += ["--model-url", model_url, "--model", "scripted", "--tag-header", "x-codegym-episode", *extra]
    env = {k: v for k, v in os.environ.items() if k != AUTH_TOKEN_ENV}
    if token is not None:
        env[AUTH_TOKEN_ENV] = token
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [r for r in lines if "summary" not in r], lines[-1]["summary"]


def scripted_play(server: str, behaviour: Behaviour) -> list[dict[str, Any]]:
    with scripted_server(FIXTURE, lambda task_id, instance, seed: behaviour) as model:
        records, summary = play(server, model.url, "--concurrency", "8")
    status = health(server)
    assert status is not None and status["sessions"] == 0, f"MCP sessions left open: {status}"
    assert summary["episodes"] == len(records)
    return records


@needs_venv
def test_the_oracle_scores_one_on_every_fixture_instance_through_the_verifiers_env(server: str) -> None:
    records = scripted_play(server, "right")
    expected = {(gym.task_id, k): gym.instances[k].instance_id for gym, k in fixture_episodes()}
    assert {(r["task_id"], r["instance"]): r["instance_id"] for r in records} == expected
    assert [r["reward"] for r in records] == [1.0] * len(expected), records
    assert {r["end_reason"] for r in records} == {"submitted"}


@needs_venv
def test_a_wrong_policy_scores_zero_on_every_instance_through_the_verifiers_env(server: str) -> None:
    records = scripted_play(server, "wrong")
    assert len(records) == len(fixture_episodes())
    assert [r["reward"] for r in records] == [0.0] * len(records) and not any(r["error"] for r in records)


@contextmanager
def _stub_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free port of 127.0.0.1 in a thread; yields its base URL."""
    stub = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=stub.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{stub.server_address[1]}"
    finally:
        stub.shutdown()
        stub.server_close()
        thread.join(timeout=5)


@contextmanager
def failing_catalog(real: str) -> Iterator[str]:
    """A server that lists ``real``'s gyms but fails every MCP request (503): an infrastructure failure."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/tasks"):
                with urllib.request.urlopen(f"{real}{self.path}", timeout=30) as response:
                    send_json(self, 200, json.loads(response.read()))
            else:
                send_json(self, 503, {"error": "scripted outage"})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            send_json(self, 503, {"error": "scripted outage"})

    with _stub_server(Handler) as base:
        yield base


@needs_venv
def test_an_infrastructure_failure_is_a_rollout_error_never_a_zero(server: str) -> None:
    with failing_catalog(server) as broken, scripted_server(FIXTURE, lambda t, i, s: "right") as model:
        records, summary = play(broken, model.url, "--instances-per-task", "1")
    assert len(records) == 2 and [r["reward"] for r in records] == [None, None]
    assert all("could not open an MCP session" in r["error"] for r in records), records
    assert (summary["scored"], summary["infra_errors"], summary["mean_reward"]) == (0, 2, None)
    assert model.requests == 0


def test_the_task_listing_gives_each_gyms_episode_count_and_the_statement_a_session_is_told(
    server: str,
) -> None:
    with urllib.request.urlopen(f"{server}/tasks?detail=1", timeout=30) as response:
        listing = json.loads(response.read())
    catalog = Catalog(FIXTURE)
    gyms = [catalog.load(t) for t in catalog.task_ids()]
    assert listing["tasks"] == catalog.task_ids()
    assert listing["gyms"] == [
        {
            "task_id": gym.task_id,
            "problem_id": gym.manifest.problem_id,
            "episodes": len(gym.instances),
            "statement": gym_instructions(gym, ServeOptions()),
        }
        for gym in gyms
    ]


@needs_venv
def test_the_adapter_sends_the_bearer_token_of_the_environment_to_a_server_that_requires_one() -> None:
    with catalog_server_process(FIXTURE, startup_timeout=240.0, extra_args=("--auth-token", "s3cret")) as url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/tasks?detail=1", timeout=30)
        refused.value.close()
        assert refused.value.code == 401
        with scripted_server(FIXTURE, lambda t, i, s: "right") as model:
            records, _ = play(
                url, model.url, "--tasks", "Fixture_vowels", "--instances-per-task", "1", token="s3cret"
            )
        assert [(r["task_id"], r["reward"]) for r in records] == [("Fixture_vowels", 1.0)]
        status = health(url)
        assert status is not None and status["sessions"] == 0


RETRY_SCRIPT = """
import json, sys
import anyio
from codegym_verifiers import task_url
from codegym_verifiers._episode import EpisodeSession

async def main() -> None:
    async with await EpisodeSession.open(task_url(sys.argv[1], "Fixture_vowels", instance=0)) as episode:
        first = await episode.call("observe", {})
        episode._next_step = 0  # what a transport retry of step 0 sends: the same index
        again = await episode.call("observe", {})
        served_next = episode._next_step  # the server's index of the next call, from its _meta
        after = await episode.call("is_vowel", {"ch": "b"})
        print(json.dumps([first.text, again.text, served_next, after.text]))

anyio.run(main)
"""


@needs_venv
def test_a_call_sent_again_with_its_step_index_gets_the_first_result_not_a_second_run(server: str) -> None:
    done = subprocess.run(
        [str(VENV_PYTHON), "-c", RETRY_SCRIPT, server],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first, again, served_next, after = json.loads(done.stdout.splitlines()[-1])
    assert (again, served_next) == (first, 1)  # answered with the first result; the episode did not advance
    assert "false" in after.lower()  # the next index is step 1 and runs
    status = health(server)
    assert status is not None and status["sessions"] == 0


@contextmanager
def observing_model() -> Iterator[tuple[str, list[int]]]:
    """A model on 127.0.0.1 that answers every request with one ``observe`` call and never submits;
    yields its base URL and a one-item list counting the requests."""
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            count[0] += 1
            call = {
                "id": f"c{count[0]}",
                "type": "function",
                "function": {"name": "observe", "arguments": "{}"},
            }
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
            send_json(
                self,
                200,
                {"id": "r", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]},
            )

    with _stub_server(Handler) as base:
        yield f"{base}/v1", count


@needs_venv
def test_an_episode_runs_until_the_servers_step_budget_however_many_replies_that_takes() -> None:
    budget = 100  # above any fixed reply cap of the adapter's own (it was 64)
    with catalog_server(extra_args=["--max-steps", str(budget)]) as url, observing_model() as (model, count):
        records, _ = play(url, model, "--tasks", "Fixture_vowels", "--instances-per-task", "1")
    assert [(r["end_reason"], r["reward"]) for r in records] == [("step_budget", 0.0)], records
    assert count[0] == budget


@contextmanager
def killable_catalog_server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``serve --all`` on the fixture catalog as a child process the test may kill or stop."""
    command = [sys.executable, "-m", "codegym_mcp.servers", "serve", "--all", "--catalog", str(FIXTURE)]
    command += ["--transport", "http", "--host", "127.0.0.1", "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    reader = threading.Thread(target=proc.stdout.read, daemon=True)  # keeps its pipe drained
    try:
        found = (re.search(r"http://127\.0\.0\.1:\d+", line) for line in proc.stdout)
        url = next((m.group(0) for m in found if m), None)
        assert url is not None, f"the catalog server exited (code {proc.poll()}) without a URL"
        reader.start()
        yield url, proc
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()
        if reader.is_alive():
            reader.join(timeout=30)
        proc.stdout.close()


def play_until_the_server_fails(
    fail: Callable[[subprocess.Popen[str]], None], *extra: str
) -> tuple[dict[str, Any], float]:
    """Play one endless episode (a model that only observes), ``fail`` the server after its third
    model request; the episode's record and the seconds ``play`` took to return after that."""
    with killable_catalog_server() as (url, server), observing_model() as (model, count):
        command = [
            str(VENV_PYTHON),
            "-m",
            "codegym_verifiers.play",
            "--catalog-url",
            url,
            "--model-url",
            model,
        ]
        command += ["--model", "m", "--tasks", "Fixture_vowels", "--instances-per-task", "1", *extra]
        player = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while count[0] < 3 and player.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        fail(server)
        failed_at = time.monotonic()
        try:
            out, err = player.communicate(timeout=120)
        finally:
            player.kill()
        seconds = time.monotonic() - failed_at
    assert player.returncode == 0, err[-3000:]
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(records) == 2, out
    return records[0], seconds


@needs_venv
def test_a_server_that_dies_mid_episode_ends_it_as_an_infrastructure_error_without_a_reward() -> None:
    record, seconds = play_until_the_server_fails(subprocess.Popen.kill)
    assert record["reward"] is None and record["end_reason"] is None, record
    assert "broke after" in record["error"] and "the catalog server is gone" in record["error"], record
    assert seconds < 60, seconds


@needs_venv
def test_a_server_that_hangs_mid_episode_ends_it_as_an_error_and_closing_does_not_wait_for_it() -> None:
    # SIGSTOP: the connection stays open and nothing answers (the DELETE that ends the session too).
    record, seconds = play_until_the_server_fails(
        lambda server: server.send_signal(signal.SIGSTOP), "--mcp-timeout", "3"
    )
    assert record["reward"] is None and record["error"], record
    assert seconds < 60, seconds  # the call's 3 s + closing's 10 s bound, not the server's


@contextmanager
def statement_model(catalog_url: str) -> Iterator[str]:
    """The scripted oracle for requests without an episode header (vf-eval sends one set of headers
    for every rollout): the episode is told by the conversation's first user message, the statement
    of one gym (instance 0: the eval plays each gym's first instance). Yields the base URL."""
    with urllib.request.urlopen(f"{catalog_url}/tasks?detail=1", timeout=30) as response:
        by_statement = {g["statement"]: g["task_id"] for g in json.loads(response.read())["gyms"]}
    state = ScriptedServer(catalog=Catalog(FIXTURE), script=lambda task_id, instance, seed: "right")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
            statement = next(m["content"] for m in body["messages"] if m["role"] == "user")
            tag = {"x-codegym-episode": f"task={by_statement[statement]};instance=0;seed=0"}
            status, payload = state.answer(tag, body)
            send_json(self, status, payload)

    with _stub_server(Handler) as base:
        yield f"{base}/v1"


@needs_venv
def test_verifiers_own_eval_cli_scores_the_oracle_one_on_every_gym(server: str, tmp_path: Path) -> None:
    vf_eval = VENV_PYTHON.parent / "vf-eval"
    with statement_model(server) as model:
        command = [str(vf_eval), "codegym_verifiers", "--env.taskset.catalog-url", server]
        command += ["--env.taskset.instances-per-task", "1", "--env.agent.runtime.type", "subprocess"]
        command += [
            "--model",
            "scripted",
            "--client.base-url",
            model,
            "--client.api-key-var",
            "OPENAI_API_KEY",
        ]
        command += ["--no-push", "--no-rich", "--output-dir", str(tmp_path), "--run.name", "oracle"]
        env = {**os.environ, "OPENAI_API_KEY": "unused"}
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    traces = [json.loads(line) for line in (tmp_path / "oracle" / "traces.jsonl").read_text().splitlines()]
    played = {
        e["task"]["key"]: (e["ok"], e["traces"][0]["rewards"], e["traces"][0]["info"]["codegym_instance_id"])
        for e in traces
    }
    catalog = Catalog(FIXTURE)
    first = {t: catalog.load(t).instances[0].instance_id for t in catalog.task_ids()}
    assert played == {
        f"{t}#0": (True, {"codegym": {"score": 1.0, "weight": 1.0}}, i) for t, i in first.items()
    }
    status = health(server)
    assert status is not None and status["sessions"] == 0


def random_reply(body: dict[str, Any], tag: str, catalog: Catalog) -> dict[str, Any]:
    """The env API's random agent as a model: the call it makes next in this episode, rebuilt from
    the episode's seed (``tag``), the offered tools and the calls already in the conversation."""
    episode = dict(part.strip().split("=", 1) for part in tag.split(";"))
    tools = tuple(
        ToolInfo(f["name"], f.get("description", ""), f["parameters"], None)
        for f in (t["function"] for t in body["tools"])
    )
    budget = catalog.load(episode["task"]).manifest.step_budget
    agent = RandomPolicy().agent(
        EpisodeContext(episode["task"], "", tools, seed=int(episode["seed"]), step_budget=budget)
    )
    made = sum(len(m.get("tool_calls") or []) for m in body["messages"] if m["role"] == "assistant")
    calls = [asyncio.run(agent.act(Observation(text=""))) for _ in range(made + 1)]
    call = calls[-1]
    message: dict[str, Any] = {"role": "assistant", "content": None if call else "done"}
    if call is not None:
        arguments = json.dumps(call.arguments)
        message["tool_calls"] = [
            {"id": f"c{made}", "type": "function", "function": {"name": call.name, "arguments": arguments}}
        ]
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if call else "stop"}
    return {"id": "r", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}


@contextmanager
def random_model() -> Iterator[str]:
    """A model on 127.0.0.1 that plays the env API's random policy (:func:`random_reply`)."""
    catalog = Catalog(FIXTURE)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
            send_json(self, 200, random_reply(body, self.headers["x-codegym-episode"], catalog))

    with _stub_server(Handler) as base:
        yield f"{base}/v1"


@needs_venv
def test_the_random_policy_scores_through_verifiers_what_it_scores_through_the_env_api(server: str) -> None:
    with random_model() as model:
        records, _ = play(server, model, "--seed", "-1", "--concurrency", "8")
    specs = [
        EpisodeSpec(index=i, task_id=r["task_id"], instance=r["instance"], seed=0)
        for i, r in enumerate(records)
    ]
    baseline, _ = anyio.run(
        lambda: run_rollouts(
            specs, connect=http_connector(server), policy=RandomPolicy(), catalog=Catalog(FIXTURE)
        )
    )
    assert len(records) == len(fixture_episodes()) and not any(r["error"] for r in records)
    assert [r["reward"] for r in records] == [float(b.reward or 0) for b in baseline]
    assert [r["instance_id"] for r in records] == [b.instance_id for b in baseline]
    assert [len(r["step_ms"]) for r in records] == [len(b.steps) for b in baseline]  # the same calls
