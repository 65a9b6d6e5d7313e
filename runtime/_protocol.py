"""The host side of the worker protocol: framing, replies, and what a worker's death means.

Pure functions over bytes, dicts and exit statuses, shared by the sync and async paths of
:class:`~codegym_mcp.runtime.Worker`. The in-jail side is ``jail/worker.py``.
"""

from __future__ import annotations

import json
import json.encoder
import signal
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from ._config import SandboxConfig
from ._errors import (
    CallFailed,
    CallTimeout,
    KilledBySignal,
    MemoryLimitExceeded,
    OutputTooLarge,
    SandboxError,
    SandboxUnavailable,
    WorkerCrashed,
)
from .jail.worker import ENCODER as _ENCODER
from .jail.worker import c_encoder

__all__ = [
    "JAIL_HOST_PACKAGE",
    "READ_CHUNK",
    "boot_source",
    "call_encoder",
    "classify_exit",
    "encode_request",
    "init_request",
    "jail_package",
    "jail_source",
    "parse_reply",
    "reply_outcome",
    "request_encoder",
    "take_reply",
]

READ_CHUNK = 1 << 16  # larger reads allocate (mmap) a big buffer per call: +12 us

JAIL_HOST_PACKAGE = "codegym_mcp.runtime.jail"
"""The in-jail package on the host; a worker imports it as ``codegym_jail`` (jail/boot.py)."""


@cache
def boot_source() -> str:
    """The source a worker starts with (``python3 -c``): runtime/jail/boot.py."""
    return resources.files(JAIL_HOST_PACKAGE).joinpath("boot.py").read_text(encoding="utf-8")


@cache
def jail_package() -> dict[str, str]:
    """Every module of runtime/jail as ``{module name: source}``, what ``init`` ships to a worker."""
    files = resources.files(JAIL_HOST_PACKAGE)
    return {
        entry.name.removesuffix(".py"): entry.read_text(encoding="utf-8")
        for entry in sorted(files.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".py") and entry.is_file()
    }


@cache
def _package_json() -> bytes:
    """:func:`jail_package` as UTF-8 JSON, encoded once (150 KB: every worker start sends it)."""
    return _ENCODER.encode(jail_package()).encode("utf-8")


def jail_source(module: str) -> str:
    """The source of one module of the in-jail package (``state`` is embedded in class gyms' tools.py).

    Raises:
        KeyError: no such module in runtime/jail.
    """
    return jail_package()[module]


def init_request(cfg: SandboxConfig) -> bytes:
    """The first request to a new worker, encoded: the in-jail package and the worker's limits.

    The same line as :func:`encode_request` of ``{"op": "init", "package": jail_package(),
    "cpu_seconds": ..., "max_output": ..., "recursion_limit": ..., "rlimits": {"as_mb": ...}}``,
    with the package's JSON encoded once per process.
    """
    limits = {
        "cpu_seconds": cfg.cpu_seconds,
        "max_output": cfg.max_output_bytes,
        "recursion_limit": cfg.recursion_limit,
        "rlimits": {"as_mb": cfg.address_space_mb if cfg.isolation == "none" else None},
    }
    rest = _ENCODER.encode(limits)[1:]  # '"cpu_seconds":...}'
    return b'{"op":"init","package":' + _package_json() + b"," + rest.encode("utf-8") + b"\n"


def encode_request(msg: dict[str, Any]) -> memoryview:
    """One request as a JSON line."""
    return memoryview((_ENCODER.encode(msg) + "\n").encode("utf-8"))


def request_encoder() -> Callable[[dict[str, Any]], bytes]:
    """A function that encodes one request as a JSON line, the same bytes as :func:`encode_request`.

    ``JSONEncoder.encode`` builds a new C encoder (and a closure) on every call, about 2 us of
    the round trip; this builds it once. Give each :class:`Worker` its own (its requests are
    one at a time): the C encoder keeps circular-reference markers while it runs, cleared here
    when it raises (it leaves them behind then, and a recycled id would read as circular).
    """
    built = c_encoder()
    if built is None:  # pragma: no cover
        return lambda msg: (_ENCODER.encode(msg) + "\n").encode("utf-8")
    encoder, markers = built

    def encode(msg: dict[str, Any]) -> bytes:
        try:
            return ("".join(encoder(msg, 0)) + "\n").encode("utf-8")
        except BaseException:
            markers.clear()
            raise

    return encode


def call_encoder() -> Callable[[Any, Any, Any, Any], bytes]:
    """``encode(module, function, args, kwargs)``: the request line of a ``call``.

    The same bytes as :func:`encode_request` of ``{"op": "call", "module": module, "function":
    function, "args": list(args), "kwargs": dict(kwargs or {})}`` (the keys in that order, no
    spaces), written from a template around the encoded values: half the cost of encoding the
    whole dict. Per :class:`Worker`, like :func:`request_encoder`.
    """
    built = c_encoder()
    if built is None:  # pragma: no cover
        return lambda module, function, args, kwargs: encode_request(
            {
                "op": "call",
                "module": module,
                "function": function,
                "args": list(args),
                "kwargs": dict(kwargs or {}),
            }
        ).tobytes()
    encoder, markers = built
    string = json.encoder.encode_basestring

    def encode(module: Any, function: Any, args: Any, kwargs: Any) -> bytes:
        # the copies first, as the dict would have them (list/dict copies encode the same)
        args = args if type(args) is list else list(args)
        kwargs = (kwargs if type(kwargs) is dict else dict(kwargs)) if kwargs else None
        try:
            return "".join(
                [
                    '{"op":"call","module":',
                    string(module) if isinstance(module, str) else "".join(encoder(module, 0)),
                    ',"function":',
                    string(function) if isinstance(function, str) else "".join(encoder(function, 0)),
                    ',"args":',
                    "".join(encoder(args, 0)),
                    ',"kwargs":',
                    "{}" if kwargs is None else "".join(encoder(kwargs, 0)),
                    "}\n",
                ]
            ).encode("utf-8")
        except BaseException:
            markers.clear()
            raise

    return encode


# what json.loads uses (the C scanner), without its whitespace regexes and encoding sniffing
_SCAN: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009


def parse_reply(line: bytes | bytearray) -> dict[str, Any]:
    """One reply line (without its newline) -> the reply object.

    Valid UTF-8 holding exactly one JSON value parses to what ``json.loads`` gives; anything
    else (another encoding, a BOM, whitespace, trailing data, errors) goes through
    ``json.loads`` itself, so what is accepted or rejected is unchanged.

    Raises:
        WorkerCrashed: the line is not a JSON object.
    """
    try:
        text = line.decode("utf-8")
        reply, end = _SCAN(text, 0)
        if end != len(text):
            raise ValueError("trailing data")
    except Exception:
        try:
            reply = json.loads(line)
        except ValueError:
            raise WorkerCrashed(
                "the worker sent a line that is not JSON",
                detail=line[:200].decode("utf-8", "replace"),  # not UTF-8 either: still WorkerCrashed
            ) from None
    if not isinstance(reply, dict):
        raise WorkerCrashed("the worker sent a reply that is not an object")
    return reply


def take_reply(buf: bytearray, scanned: int, limit: int) -> dict[str, Any] | None:
    """Cut one reply line off ``buf`` (None when no full line yet; ``scanned`` bytes hold none).

    Raises:
        WorkerCrashed: the line is not a JSON object.
        OutputTooLarge: no line end within ``limit`` bytes.
    """
    nl = buf.find(b"\n", scanned)
    if nl < 0:
        if len(buf) > limit:
            raise OutputTooLarge("the reply (the encoded result)", limit)
        return None
    line = buf[:nl]  # a copy
    del buf[: nl + 1]
    return parse_reply(line)


def reply_outcome(reply: dict[str, Any], cfg: SandboxConfig) -> Any:
    """A reply -> the wire result, or raise what it stands for (the caller kills on SandboxError).

    Raises:
        CallFailed: the code raised.
        MemoryLimitExceeded: MemoryError in the jail.
        OutputTooLarge: the call printed past the cap.
        WorkerCrashed: a reply the protocol does not know.
    """
    if reply.get("ok") is True:
        return reply.get("result")
    kind = reply.get("kind")
    tb = str(reply.get("traceback", ""))
    if kind == "exception":
        raise CallFailed(str(reply.get("exc_type", "Exception")), str(reply.get("message", "")), tb)
    if kind == "memory":
        raise MemoryLimitExceeded(cfg.address_space_mb, how="MemoryError in the jail", detail=tb)
    if kind == "output":
        raise OutputTooLarge("what the call printed", cfg.max_output_bytes, detail=tb)
    raise WorkerCrashed(f"unexpected reply kind {kind!r}", detail=tb)


def classify_exit(
    code: int, *, jailed: bool, cgroup_memory: bool, cfg: SandboxConfig, detail: str
) -> SandboxError:
    """What a worker's exit status means.

    nsjail exits 128+N when the jail died by signal N (a timeout and an OOM kill both read 137:
    the host's own timer tells a timeout apart before we get here) and 255 on a setup failure.
    A plain subprocess reports a signal as a negative status.
    """
    if jailed and code == 255:
        return SandboxUnavailable(
            f"nsjail failed to set up the jail (exit 255): {detail.strip()[-600:]!r}; "
            "run `codegym-mcp doctor` for the fix",
            detail=detail,
        )
    signum: int | None = None
    if code < 0:
        signum = -code
    elif jailed and 128 < code < 128 + 65:
        signum = code - 128
    if signum is None:
        return WorkerCrashed(f"the worker exited with status {code}", exit_code=code, detail=detail)
    if signum == signal.SIGXCPU:
        return CallTimeout(float(cfg.cpu_seconds), limit="cpu", detail=detail)
    if signum == signal.SIGKILL and cgroup_memory:
        return MemoryLimitExceeded(
            cfg.memory_mb,
            how="SIGKILL with the cgroup memory limit active: most likely the OOM killer",
            detail=detail,
        )
    return KilledBySignal(signum, detail=detail)
