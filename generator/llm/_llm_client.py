"""A small, cached, rate-limit-aware client for any OpenAI-compatible chat endpoint.

The LLM stage is optional (``pip install 'codegym-mcp[llm]'``): ``openai`` is imported only
when a :class:`LlmClient` is built, and a missing install raises :class:`LlmNotInstalled`
naming the command. Any server that speaks ``/v1/chat/completions`` works (OpenAI, vLLM,
Ollama, llama.cpp's server); the key comes from ``OPENAI_API_KEY`` (a dummy value is fine
for local servers).

Replies are cached on disk, keyed by the sha256 of (model, messages, sampling params), so a
rerun of ``generate`` makes no requests and reproduces the same gyms. Token usage is summed
into :class:`~codegym_mcp.schemas.LlmUsage` for the report.

Exceptions::

    LlmError (RuntimeError)
     +-- LlmNotInstalled (also ImportError)   openai is not installed
     +-- LlmRequestFailed                     no reply after the retries (status, attempts)
          +-- LlmTimeout (also TimeoutError)  the server did not answer within the timeout
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict

from ...schemas import LlmUsage

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

__all__ = [
    "ChatMessage",
    "LlmClient",
    "LlmError",
    "LlmNotInstalled",
    "LlmReply",
    "LlmRequestFailed",
    "LlmSettings",
    "LlmTimeout",
    "default_llm_cache_dir",
]

API_KEY_ENV = "OPENAI_API_KEY"
_INSTALL_HINT = "pip install 'codegym-mcp[llm]'"
_CACHE_FORMAT = 1
_FATAL_STATUSES = frozenset({401, 403, 404})  # bad key, no access, unknown model or wrong base URL


class LlmError(RuntimeError):
    """Base of the LLM stage's errors."""


class LlmNotInstalled(LlmError, ImportError):
    """The ``openai`` package is missing; the message names the install command."""


class LlmRequestFailed(LlmError):
    """The endpoint gave no usable reply after ``attempts`` tries (last HTTP ``status`` if any)."""

    def __init__(self, message: str, *, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class LlmTimeout(LlmRequestFailed, TimeoutError):
    """The endpoint did not answer within the configured timeout."""


class ChatMessage(TypedDict):
    """One chat message as the OpenAI API takes it."""

    role: Literal["system", "user", "assistant"]
    content: str


def default_llm_cache_dir() -> Path:
    """Where replies are cached unless ``--llm-cache-dir`` says otherwise.

    ``$CODEGYM_LLM_CACHE`` if set, else ``platformdirs.user_cache_dir("codegym-mcp")/llm``.
    """
    env = os.environ.get("CODEGYM_LLM_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("codegym-mcp")) / "llm"


@dataclass(frozen=True, kw_only=True)
class LlmSettings:
    """How to reach the model and how patiently. Picklable; no secrets (the key stays in the env).

    ``base_url`` None means OpenAI's own endpoint. ``cache_dir`` None disables the cache.
    429, 5xx, timeouts and connection errors are retried ``max_retries`` times by the openai
    client itself (exponential backoff with jitter; a ``Retry-After`` header is honoured).
    """

    model: str
    base_url: str | None = None
    timeout: float = 120.0
    max_retries: int = 4
    max_concurrency: int = 4
    temperature: float = 0.0
    max_tokens: int = 4096
    seed: int | None = 0
    cache_dir: Path | None = field(default_factory=default_llm_cache_dir)

    def params(self) -> dict[str, float | int | None]:
        """The sampling parameters sent with every request (and hashed into the cache key)."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed}


@dataclass(frozen=True, kw_only=True)
class LlmReply:
    """The text of one completion and what it cost (zero tokens when it came from the cache)."""

    text: str
    cached: bool
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


def cache_key(model: str, messages: list[ChatMessage], params: dict[str, float | int | None]) -> str:
    """The sha256 hex digest naming a request in the cache."""
    blob = json.dumps(
        {"model": model, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class LlmClient:
    """A thread-safe chat client: bounded concurrency, retries, timeout, disk cache, usage totals.

    Use it as a context manager (or call :meth:`close`). Many threads may call :meth:`complete`
    at once; at most ``settings.max_concurrency`` requests are in flight.
    """

    def __init__(self, settings: LlmSettings, *, api_key: str | None = None) -> None:
        """Build the underlying ``openai.OpenAI`` client.

        Raises:
            LlmNotInstalled: ``openai`` is not installed.
            ValueError: a setting is out of range.
        """
        try:
            import openai
        except ImportError as exc:
            raise LlmNotInstalled(
                f"the LLM stage needs the openai package, which is not installed ({exc}); "
                f"install it with: {_INSTALL_HINT}"
            ) from exc
        if settings.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {settings.max_concurrency}")
        if settings.max_retries < 0 or settings.timeout <= 0:
            raise ValueError(
                f"max_retries must be >= 0 and timeout > 0, got {settings.max_retries} and {settings.timeout}"
            )
        self.settings = settings
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        # Local servers ignore the key, but the openai client refuses to start without one.
        self._openai: openai.OpenAI = openai.OpenAI(
            api_key=key or "sk-no-key-set",
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            http_client=openai.DefaultHttpxClient(event_hooks={"request": [self._count_request]}),
        )
        self._local = threading.local()
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        self._lock = threading.Lock()
        self._usage = LlmUsage()
        self._fatal: LlmRequestFailed | None = None

    def __enter__(self) -> LlmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._openai.close()

    @property
    def usage(self) -> LlmUsage:
        """A snapshot of the totals so far (requests, cache hits, tokens, failures)."""
        with self._lock:
            return self._usage.model_copy()

    def complete(self, messages: list[ChatMessage]) -> LlmReply:
        """The model's reply to ``messages``, from the cache if this exact request was made before.

        Raises:
            LlmTimeout: the server did not answer within ``settings.timeout`` seconds.
            LlmRequestFailed: an error status (after retries for 429/5xx), a connection failure
                after retries, or a reply without text. After a 401, 403 or 404 every later call
                fails the same way without a request.
        """
        params = self.settings.params()
        key = cache_key(self.settings.model, messages, params)
        cached = self._cache_read(key)
        if cached is not None:
            with self._lock:
                self._usage.cache_hits += 1
            return cached
        try:
            if self._fatal is not None:
                # a bad key or an unknown model fails every request alike: ask once, not per problem
                raise LlmRequestFailed(
                    f"{self._fatal} (not sent: an earlier request got this answer)",
                    status=self._fatal.status,
                    attempts=0,
                )
            with self._slots:
                reply = self._request(messages)
        except LlmRequestFailed as exc:
            with self._lock:
                self._usage.failures += 1
                if exc.status in _FATAL_STATUSES and self._fatal is None:
                    self._fatal = exc
            raise
        with self._lock:
            self._usage.prompt_tokens += reply.prompt_tokens
            self._usage.completion_tokens += reply.completion_tokens
        self._cache_write(key, messages, reply)
        return reply

    def _count_request(self, request: object) -> None:
        """httpx event hook: every HTTP request the openai client sends, its own retries included."""
        self._local.attempts = getattr(self._local, "attempts", 0) + 1
        with self._lock:
            self._usage.requests += 1

    def _request(self, messages: list[ChatMessage]) -> LlmReply:
        """One completion; the openai client retries 429, 5xx, timeouts and connection errors
        (``max_retries`` times, honouring ``Retry-After``); what is left is turned into our errors."""
        import openai

        s = self.settings
        where = s.base_url or "api.openai.com"
        self._local.attempts = 0
        try:
            completion = self._openai.chat.completions.create(
                model=s.model,
                messages=[_to_openai(m) for m in messages],
                temperature=s.temperature,
                max_tokens=s.max_tokens,
                seed=s.seed if s.seed is not None else openai.omit,
            )
        except openai.APITimeoutError as exc:
            raise LlmTimeout(
                f"{where} did not answer within {s.timeout:g}s (model {s.model!r}, "
                f"{self._local.attempts} attempt(s)); raise --llm-timeout or check the server",
                status=None,
                attempts=self._local.attempts,
            ) from exc
        except openai.APIStatusError as exc:
            raise LlmRequestFailed(
                f"model {s.model!r} at {where} answered HTTP {exc.status_code} "
                f"after {self._local.attempts} attempt(s): {exc.message}",
                status=exc.status_code,
                attempts=self._local.attempts,
            ) from exc
        except openai.APIConnectionError as exc:  # (APITimeoutError, its subclass, is caught above)
            raise LlmRequestFailed(
                f"cannot reach {where} after {self._local.attempts} attempt(s): {exc}; "
                "check --llm-base-url and that the server is running",
                status=None,
                attempts=self._local.attempts,
            ) from exc
        except (openai.OpenAIError, ValueError) as exc:  # e.g. a 200 whose body is not JSON
            raise LlmRequestFailed(
                f"model {s.model!r} at {where} gave an unusable answer: {type(exc).__name__}: {exc}",
                status=getattr(exc, "status_code", None),
                attempts=self._local.attempts,
            ) from exc
        return _reply(completion, s.model, self._local.attempts)

    def _cache_path(self, key: str) -> Path | None:
        if self.settings.cache_dir is None:
            return None
        return self.settings.cache_dir / key[:2] / f"{key}.json"

    def _cache_read(self, key: str) -> LlmReply | None:
        path = self._cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            text = entry["reply"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a torn or foreign file: ask again and overwrite it
        if not isinstance(text, str) or entry.get("format") != _CACHE_FORMAT:
            return None
        finish = entry.get("finish_reason")
        return LlmReply(text=text, cached=True, finish_reason=finish if isinstance(finish, str) else None)

    def _cache_write(self, key: str, messages: list[ChatMessage], reply: LlmReply) -> None:
        path = self._cache_path(key)
        if path is None:
            return
        entry = {
            "format": _CACHE_FORMAT,
            "model": self.settings.model,
            "params": self.settings.params(),
            "messages": messages,
            "reply": reply.text,
            "finish_reason": reply.finish_reason,
            "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a crash or a concurrent writer never leaves a torn entry behind.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(entry, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)


def _reply(completion: object, model: str, attempts: int) -> LlmReply:
    """The text and token counts of a completion, read defensively (a lenient server may send any JSON).

    Raises:
        LlmRequestFailed: the answer is not a chat completion, or holds no text.
    """
    try:
        choice = completion.choices[0]  # type: ignore[attr-defined]
        text, finish = choice.message.content, choice.finish_reason
        usage = getattr(completion, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    except (AttributeError, TypeError, IndexError, ValueError) as exc:
        raise LlmRequestFailed(
            f"model {model!r} answered something that is not a chat completion "
            f"({type(exc).__name__}: {exc}): {str(completion)[:200]!r}",
            status=200,
            attempts=attempts,
        ) from exc
    if not isinstance(text, str) or not text:
        raise LlmRequestFailed(
            f"model {model!r} returned no text (finish_reason {finish!r})", status=200, attempts=attempts
        )
    return LlmReply(
        text=text,
        cached=False,
        finish_reason=finish if isinstance(finish, str) else None,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


def _to_openai(message: ChatMessage) -> ChatCompletionMessageParam:
    if message["role"] == "system":
        return {"role": "system", "content": message["content"]}
    if message["role"] == "user":
        return {"role": "user", "content": message["content"]}
    return {"role": "assistant", "content": message["content"]}
