"""The LLM stage's flags: off without --llm-model, settings from the flags, bad values named."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from codegym_mcp.servers.cli._llm_flags import add_llm_arguments, llm_settings_from_args


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_llm_arguments(parser)
    return parser.parse_args(argv)


def test_llm_stage_is_off_without_llm_model() -> None:
    assert llm_settings_from_args(_parse([])) is None


def test_llm_flags_become_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = _parse(
        [
            "--llm-model",
            "qwen",
            "--llm-base-url",
            "http://127.0.0.1:1/v1",
            "--llm-concurrency",
            "3",
            "--llm-timeout",
            "7.5",
            "--llm-max-retries",
            "1",
            "--llm-cache-dir",
            str(tmp_path),
        ]
    )
    got = llm_settings_from_args(args)
    assert got is not None
    assert (got.model, got.base_url, got.max_concurrency, got.timeout, got.max_retries, got.cache_dir) == (
        "qwen",
        "http://127.0.0.1:1/v1",
        3,
        7.5,
        1,
        tmp_path,
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    no_cache = llm_settings_from_args(_parse(["--llm-model", "m", "--no-llm-cache"]))
    assert no_cache is not None and no_cache.cache_dir is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--llm-base-url", "http://x/v1"], "without --llm-model"),
        (["--llm-model", "m", "--llm-concurrency", "0"], "--llm-concurrency must be >= 1, got 0"),
        (["--llm-model", "m", "--llm-timeout", "0"], "--llm-timeout must be > 0"),
        (["--llm-model", "m", "--llm-max-retries", "-1"], "--llm-max-retries must be >= 0, got -1"),
    ],
)
def test_bad_llm_flags_say_which_flag(argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        llm_settings_from_args(_parse(argv))


# --- through the real pipeline (sandboxed replay) ------------------------------------------


def test_openai_itself_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match=r"needs \$OPENAI_API_KEY: export it, or point --llm-base-url"):
        llm_settings_from_args(_parse(["--llm-model", "gpt-x"]))
    local = llm_settings_from_args(_parse(["--llm-model", "m", "--llm-base-url", "http://127.0.0.1:1/v1"]))
    assert local is not None  # local servers need no key
