"""``codegym-mcp rollout``: run episodes through the MCP servers with a policy, write trajectories.

The default path is the real one: a catalog server over streamable HTTP on 127.0.0.1 (a child
process, so it has its own core), one MCP session per episode. ``--transport stdio`` launches
one stdio server per episode instead; ``--url`` uses a catalog server already running.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._main import UsageError

if TYPE_CHECKING:
    from ...runtime import Catalog
    from ..rollout._policies import Policy
    from ..rollout._rollout import RolloutSummary

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog", type=Path, metavar="DIR", help="catalog folder (default: the one `make demo` builds)"
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        metavar="TASK",
        help="only these gyms: task ids (HumanEval_0) or dataset ids (HumanEval/0) (default: every gym)",
    )
    parser.add_argument(
        "--policy",
        choices=["oracle", "random", "openai"],
        required=True,
        help="oracle: replay the verified plan (must score 1); random: baseline; openai: an LLM via --model",
    )
    parser.add_argument("--model", metavar="M", help="model name for --policy openai")
    parser.add_argument(
        "--base-url", metavar="URL", help="OpenAI-compatible endpoint for --policy openai (default: OpenAI's)"
    )
    parser.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="VAR",
        help="environment variable holding the API key (openai)",
    )
    parser.add_argument(
        "--max-turns", type=int, default=20, metavar="N", help="LLM calls per episode (openai; default 20)"
    )
    parser.add_argument("--episodes", type=int, metavar="N", help="episodes to run (default: one per gym)")
    parser.add_argument(
        "--concurrency", type=int, default=8, metavar="K", help="episodes in flight (default 8)"
    )
    parser.add_argument(
        "--group-size",
        type=int,
        default=1,
        metavar="G",
        help="G episodes per gym instance, played in one MCP session (GRPO-style groups; default 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the random policy (episode i uses seed+i)"
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write one EpisodeRecord JSON line per episode here"
    )
    parser.add_argument(
        "--summary-json", type=Path, metavar="FILE", help="also write the summary as JSON here"
    )
    parser.add_argument(
        "--transport",
        choices=["http", "stdio"],
        default="http",
        help="http: one catalog server, a session per episode (default); stdio: a server process per episode",
    )
    parser.add_argument(
        "--server",
        choices=["subprocess", "inprocess"],
        help="where the HTTP catalog server runs (default: subprocess, a child process)",
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="use the catalog server already listening at this base URL (groups of episodes need the "
        "harness key it was started with in $CODEGYM_HARNESS_KEY)",
    )
    parser.add_argument(
        "--min-success",
        type=float,
        metavar="R",
        help="exit 1 if the success rate is below this (e.g. 1.0 for the oracle's end-to-end check)",
    )
    parser.add_argument(
        "--no-sandbox", action="store_true", help="run the gyms' code without nsjail (unsafe; warns loudly)"
    )


def _policy(args: argparse.Namespace, catalog: Catalog) -> Policy:
    from ..rollout._policies import OpenAIPolicy, OraclePolicy, RandomPolicy

    if args.policy == "oracle":
        return OraclePolicy(catalog)
    if args.policy == "random":
        return RandomPolicy()
    if not args.model:
        raise UsageError("--policy openai needs --model NAME (and --base-url URL for a local endpoint)")
    if args.max_turns < 1:
        raise UsageError(f"--max-turns must be at least 1, got {args.max_turns}")
    import os

    if not args.base_url and not os.environ.get(args.api_key_env):
        raise UsageError(
            f"--policy openai without --base-url talks to OpenAI and needs an API key: set "
            f"${args.api_key_env} (or name another variable with --api-key-env), or pass --base-url URL "
            "of a local OpenAI-compatible server"
        )
    return OpenAIPolicy(
        model=args.model,
        base_url=args.base_url,
        api_key=os.environ.get(args.api_key_env),
        max_turns=args.max_turns,
    )


def run(args: argparse.Namespace) -> int:
    import anyio

    from ...runtime import Catalog, CatalogError, default_catalog_dir, warn_no_sandbox

    catalog_dir: Path = args.catalog or default_catalog_dir()
    catalog = Catalog(catalog_dir)
    try:
        task_ids = [catalog.resolve(t) for t in args.tasks] if args.tasks else catalog.task_ids()
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc
    if not task_ids:
        raise UsageError(
            f"catalog {catalog_dir} holds no gym: build one with `codegym-mcp generate --out {catalog_dir}`"
        )
    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.episodes is not None and args.episodes < 1:
        raise UsageError(f"--episodes must be at least 1, got {args.episodes}")
    if args.group_size < 1:
        raise UsageError(f"--group-size must be at least 1, got {args.group_size}")
    if args.url is not None and args.transport != "http":
        raise UsageError("--url names an HTTP catalog server: drop --transport stdio (or drop --url)")
    if args.url is not None and args.server is not None:
        raise UsageError("--url uses a server that is already running: drop --server (it starts one)")
    if args.server is not None and args.transport != "http":
        raise UsageError("--server places the HTTP catalog server: it does not apply to --transport stdio")
    args.server = args.server or "subprocess"
    policy = _policy(args, catalog)
    if args.no_sandbox and not (args.transport == "http" and args.url is None and args.server == "inprocess"):
        # The servers this run starts (or reaches) print their own warning where nobody may see it.
        warn_no_sandbox()
    infra_details: list[str] = []  # the first few reasons an episode went unscored
    try:
        summary = anyio.run(_main, args, catalog, task_ids, policy, infra_details)
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc
    print(summary.format())
    for detail in infra_details:
        print(f"  infrastructure error: {detail}", file=sys.stderr)
    if summary.episodes and summary.infra_errors == summary.episodes:
        print(
            f"codegym-mcp rollout: all {summary.episodes} episodes failed before they could be scored "
            "(infrastructure errors above): nothing was measured",
            file=sys.stderr,
        )
        return 1
    if args.summary_json:
        args.summary_json.parent.mkdir(parents=True, exist_ok=True)
        args.summary_json.write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if args.policy == "oracle" and summary.successes == summary.episodes:
        print(f"end-to-end check passed: the oracle scored 1 on all {summary.episodes} episodes")
    if args.min_success is not None and summary.success_rate < args.min_success:
        print(
            f"codegym-mcp rollout: success rate {summary.success_rate:.1%} is below --min-success "
            f"{args.min_success:.1%}",
            file=sys.stderr,
        )
        return 1
    return 0


async def _main(
    args: argparse.Namespace, catalog: Catalog, task_ids: list[str], policy: Policy, infra_details: list[str]
) -> RolloutSummary:
    import os
    import secrets
    from contextlib import AsyncExitStack

    from ...runtime import episode_count
    from ...schemas import EpisodeRecord
    from ..mcp._server import HARNESS_KEY_ENV
    from ..rollout._connectors import (
        catalog_inprocess,
        catalog_subprocess,
        http_connector,
        shared_http_client,
        stdio_connector,
    )
    from ..rollout._rollout import Connector, plan_episodes, run_rollouts

    # The servers this run starts get a fresh harness key; a running one (--url), $CODEGYM_HARNESS_KEY.
    key = os.environ.get(HARNESS_KEY_ENV) if args.url is not None else secrets.token_urlsafe(24)
    gyms = [(t, episode_count(catalog.load(t))) for t in task_ids]  # a batch of K instances is one episode
    episodes = args.episodes or len(gyms) * args.group_size
    specs = plan_episodes(gyms, episodes=episodes, seed=args.seed, group_size=args.group_size)
    async with AsyncExitStack() as stack:
        connect: Connector
        where: str
        if args.transport == "stdio":
            connect = stdio_connector(catalog.path, no_sandbox=args.no_sandbox, harness_key=key)
            where = "stdio servers"
        else:
            base = args.url
            if base is None:
                start = catalog_subprocess if args.server == "subprocess" else catalog_inprocess
                base = await stack.enter_async_context(
                    start(catalog.path, no_sandbox=args.no_sandbox, harness_key=key)
                )
            http = await stack.enter_async_context(shared_http_client())
            connect = http_connector(base, http_client=http, harness_key=key)
            where = f"catalog server {base}"
        out = None
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context(args.out.open("w", encoding="utf-8"))

        done = [0, 0]  # episodes ended, episodes scored 1
        every = max(1, len(specs) // 10)

        def sink(record: EpisodeRecord) -> None:
            if out is not None:
                out.write(record.model_dump_json() + "\n")
                out.flush()
            done[0] += 1
            done[1] += record.reward == 1
            if record.end_reason == "infra_error" and len(infra_details) < 3:
                # The failing call's error says what broke; the record's detail may only count failures.
                failed = next((s.error for s in reversed(record.steps) if s.error), None)
                cause = failed.split(" This is a failure of")[0] if failed else record.detail or "no detail"
                infra_details.append(f"{record.task_id}: {cause}")
            if done[0] % every == 0 and done[0] < len(specs):
                print(f"  {done[0]}/{len(specs)} episodes, {done[1]} solved", file=sys.stderr, flush=True)

        print(
            f"rollout: {len(specs)} episodes of {len(gyms)} gym(s) with policy {policy.name}, "
            f"concurrency {args.concurrency}, via {where}",
            file=sys.stderr,
        )
        _, summary = await run_rollouts(
            specs, connect=connect, policy=policy, catalog=catalog, concurrency=args.concurrency, sink=sink
        )
        aclose = getattr(policy, "aclose", None)
        if aclose is not None:
            await aclose()
    if args.out is not None:
        print(f"wrote {summary.episodes} episode records to {args.out}", file=sys.stderr)
    return summary
