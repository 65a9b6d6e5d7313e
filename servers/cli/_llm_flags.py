"""The optional LLM stage's flags (``--llm-model`` switches it on) and the settings they ask for."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ...generator import LLM_API_KEY_ENV as API_KEY_ENV
from ...generator import LLM_INSTALL_HINT as _INSTALL_HINT
from ...generator import LlmSettings, default_llm_cache_dir

__all__ = ["add_llm_arguments", "llm_settings_from_args"]


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the optional LLM stage's flags (``--llm-model`` switches it on) to a verb's parser."""
    group = parser.add_argument_group(
        "LLM decomposition (optional; needs " + _INSTALL_HINT + ", key from $" + API_KEY_ENV + ")"
    )
    group.add_argument(
        "--llm-model",
        metavar="M",
        default=None,
        help="ask model M to split each reference solution into small typed helpers (off by default)",
    )
    group.add_argument(
        "--llm-base-url",
        metavar="U",
        default=None,
        help="any OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (default: OpenAI)",
    )
    group.add_argument(
        "--llm-concurrency", metavar="N", type=int, default=4, help="requests in flight (default 4)"
    )
    group.add_argument(
        "--llm-timeout", metavar="S", type=float, default=120.0, help="seconds per request (default 120)"
    )
    group.add_argument(
        "--llm-max-retries",
        metavar="N",
        type=int,
        default=4,
        help="retries on HTTP 429/5xx, timeouts and connection errors, by the openai client with exponential backoff (default 4)",
    )
    group.add_argument(
        "--llm-cache-dir",
        metavar="DIR",
        type=Path,
        default=None,
        help="reply cache (default: $CODEGYM_LLM_CACHE, else <user cache dir>/codegym-mcp/llm)",
    )
    group.add_argument("--no-llm-cache", action="store_true", help="neither read nor write the reply cache")


def llm_settings_from_args(args: argparse.Namespace) -> LlmSettings | None:
    """The LLM settings the flags ask for, or None when ``--llm-model`` is not given.

    Raises:
        ValueError: a numeric flag is out of range (the message names the flag and the value).
    """
    model: str | None = getattr(args, "llm_model", None)
    if not model:
        if getattr(args, "llm_base_url", None):
            raise ValueError("--llm-base-url was given without --llm-model: add --llm-model NAME")
        return None
    if args.llm_concurrency < 1:
        raise ValueError(f"--llm-concurrency must be >= 1, got {args.llm_concurrency}")
    if args.llm_timeout <= 0:
        raise ValueError(f"--llm-timeout must be > 0 seconds, got {args.llm_timeout}")
    if args.llm_max_retries < 0:
        raise ValueError(f"--llm-max-retries must be >= 0, got {args.llm_max_retries}")
    if args.llm_base_url is None and not os.environ.get(API_KEY_ENV):
        raise ValueError(
            f"--llm-model without --llm-base-url talks to api.openai.com, which needs ${API_KEY_ENV}: "
            "export it, or point --llm-base-url at a local OpenAI-compatible server"
        )
    cache_dir: Path | None
    if args.no_llm_cache:
        cache_dir = None
    else:
        cache_dir = args.llm_cache_dir if args.llm_cache_dir is not None else default_llm_cache_dir()
    return LlmSettings(
        model=model,
        base_url=args.llm_base_url,
        timeout=args.llm_timeout,
        max_retries=args.llm_max_retries,
        max_concurrency=args.llm_concurrency,
        cache_dir=cache_dir,
    )
