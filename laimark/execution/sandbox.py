"""Isolated execution of model-written Python, with the kernel as the boundary.

A `Sandbox` keeps a pool of fork-servers (`_worker.py`), one per core by default. At the
default level, `bwrap`, each server is pid 1 of its own bubblewrap sandbox: new user, pid, network,
IPC and UTS namespaces (no network at all; no nested namespaces), a read-only view of /usr and the
interpreter only (the user's home, the project and the environment are not there), a read-only
/dev, small private tmpfs on /tmp and /dev/shm, a seccomp filter (`_seccomp.py`), and an
unprivileged uid so that the process limit holds even when laimark runs as root. Each program then
runs in a pair of processes (a judge forked from the server, a candidate forked from a zygote that
never saw a job; see the worker's docstring) under CPU, memory, file-size, process and output
limits; afterwards every process it started is killed and its files are wiped. Forking a warm
interpreter instead of starting one per program is what makes this fast.

The `process` level is the fallback where bubblewrap cannot run (macOS, containers without user
namespaces): the same fork-server and limits, but no namespaces, so the network and the host's
files are reachable. It is never chosen silently.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from laimark.execution._seccomp import seccomp_program
from laimark.execution._wire import MAX_FRAME, WireError, pack, unpack

logger = logging.getLogger(__name__)

LEVELS = ("auto", "bwrap", "process")
# The worker imports nothing: the wire format's source goes in front of its own.
WORKER_SOURCES = [Path(__file__).with_name(n) for n in ("_wire.py", "_worker.py")]
NOBODY = 65534
# All that bubblewrap itself is started with: whatever the host's environment holds (tokens,
# keys, paths) must not be in any process of the sandbox, bubblewrap's own included.
SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
# Flags beyond the basics: --as-pid-1 is required (without it bubblewrap's own init, holding the
# host's pipes, would be reachable from the code); the others harden and are used when present.
REQUIRED_FLAGS = ("--as-pid-1",)
HARDENING_FLAGS = ("--disable-userns", "--size", "--seccomp")
# What the process level leaves open; printed whenever it is used.
PROCESS_LEVEL_WARNING = (
    "SANDBOX DEGRADED: running model-written code WITHOUT namespace isolation (--sandbox process). "
    "It can reach the network, read every file your user can read, and write where your user can "
    "write. Only CPU, memory, file-size, process and output limits apply. Install bubblewrap "
    "(Debian/Ubuntu: apt-get install bubblewrap) to get the default isolation."
)


class SandboxError(RuntimeError):
    """The sandbox itself could not be started (not a verdict on a program)."""


@dataclass(frozen=True)
class Limits:
    """Per-program limits. `nproc` counts processes and threads beyond the sandbox's own."""

    timeout: float = 5.0
    cpu_seconds: int = 5
    memory_mb: int = 1024
    fsize_mb: int = 16
    nproc: int = 16
    max_output: int = 64 * 1024
    tmpfs_mb: int = 64  # each of /tmp and /dev/shm (bwrap level); tmpfs is RAM outside memory_mb


@functools.lru_cache(maxsize=1)
def bwrap_flags() -> frozenset[str]:
    """The optional flags this bubblewrap knows (0.8.0 has them all; Ubuntu 22.04's 0.6 not)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return frozenset()
    help_text = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30).stdout
    return frozenset(f for f in REQUIRED_FLAGS + HARDENING_FLAGS if f in help_text)


def bwrap_usable() -> tuple[bool, str]:
    """Whether bubblewrap can create the namespaces we need here, and why not if it cannot."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False, "bwrap is not installed"
    missing = [f for f in REQUIRED_FLAGS if f not in bwrap_flags()]
    if missing:
        return False, f"this bubblewrap is too old (no {', '.join(missing)}; 0.8.0 or later)"
    probe = subprocess.run(
        [exe, "--unshare-all", "--unshare-user", "--as-pid-1", "--ro-bind", "/", "/"]
        + ["--proc", "/proc", "--dev", "/dev", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        env=SANDBOX_ENV,
    )
    if probe.returncode != 0:
        return False, f"bwrap failed: {probe.stderr.strip()[:300]}"
    return True, ""


def hardening() -> dict:
    """Which of the optional defences the bwrap level has on this machine, and why not."""
    flags = bwrap_flags()
    program, why = seccomp_program() if "--seccomp" in flags else (None, "bwrap has no --seccomp")
    return {
        "seccomp": program is not None,
        "seccomp_missing_because": why,
        "nested_userns_disabled": "--disable-userns" in flags,
        "sized_tmpfs": "--size" in flags,
    }


def resolve_level(level: str) -> str:
    """Turn `auto` into a concrete level; refuse `bwrap` where it cannot run."""
    if level not in LEVELS:
        raise ValueError(f"unknown sandbox level {level!r}; choose one of {', '.join(LEVELS)}")
    if level == "process":
        return level
    ok, why = bwrap_usable()
    if ok:
        return "bwrap"
    if level == "bwrap":
        raise SandboxError(f"--sandbox bwrap was requested but {why}")
    logger.warning("bubblewrap is not usable (%s).\n%s", why, PROCESS_LEVEL_WARNING)
    return "process"


def _world_readable(path: Path) -> bool:
    """True if an unprivileged user can reach and read `path` (every parent traversable)."""
    try:
        for parent in list(path.parents)[:-1]:
            if not os.stat(parent).st_mode & 0o001:
                return False
        return bool(os.stat(path).st_mode & 0o004)
    except OSError:
        return False


def sandbox_interpreter(drop_to_nobody: bool) -> Path:
    """The Python that runs inside the sandbox: ours, or a system one `nobody` can read."""
    ours = Path(os.path.realpath(sys.executable))
    if not drop_to_nobody or _world_readable(ours):
        return ours
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        path = Path(os.path.realpath(candidate))
        if _world_readable(path):
            return path
    return ours


def _interpreter_prefix(python: Path) -> Path:
    # bin/pythonX.Y lives two levels below its installation prefix.
    return python.parent.parent


def bwrap_command(
    python: Path,
    scratch_root: str,
    limits: Limits,
    seccomp_fd: int | None = None,
    hash_seed: int = 0,
) -> list[str]:
    """The bubblewrap invocation: nothing but /usr, the interpreter and a private /tmp."""
    flags = bwrap_flags()
    cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user"]
    if "--disable-userns" in flags:
        cmd.append("--disable-userns")
    cmd += ["--as-pid-1", "--die-with-parent", "--new-session"]
    cmd += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", scratch_root]
    cmd += ["--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONHASHSEED", str(hash_seed)]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    prefix = _interpreter_prefix(python)
    if not str(prefix).startswith("/usr/"):
        cmd += ["--ro-bind", str(prefix), str(prefix)]
    size = ["--size", str(limits.tmpfs_mb << 20)] if "--size" in flags else []
    cmd += ["--dev", "/dev", *size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    cmd += ["--proc", "/proc", *size, "--tmpfs", "/tmp", "--chdir", "/tmp"]
    # The sandbox's own root is a tmpfs; read-only, so that only /tmp and /dev/shm (wiped after
    # every run) can carry files from one run to the next.
    cmd += ["--remount-ro", "/"]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return cmd


def _seccomp_pipe() -> int | None:
    """A pipe's read end holding the compiled filter, for `bwrap --seccomp FD`."""
    if "--seccomp" not in bwrap_flags():
        return None
    program, _ = seccomp_program()
    if program is None:
        return None
    r, w = os.pipe()
    os.write(w, program)  # a few hundred bytes: far below a pipe's buffer
    os.close(w)
    return r


class _Worker:
    """One fork-server process and the frame protocol to it."""

    def __init__(self, level: str, limits: Limits, hash_seed: int = 0):
        self.level, self.limits, self.hash_seed = level, limits, hash_seed
        self.proc: subprocess.Popen | None = None
        self._host_tmp: str | None = None
        self.start()

    def start(self) -> None:
        drop = self.level == "bwrap" and os.geteuid() == 0
        python = sandbox_interpreter(drop)
        program = "\n".join(path.read_text() for path in WORKER_SOURCES)
        flags = [str(python), "-S", "-s", "-B", "-c", program]
        seccomp_fd = None
        if self.level == "bwrap":
            scratch_root = "/tmp"
            seccomp_fd = _seccomp_pipe()
            cmd = bwrap_command(python, scratch_root, self.limits, seccomp_fd, self.hash_seed)
            env = SANDBOX_ENV
        else:
            self._host_tmp = tempfile.mkdtemp(prefix="laimark-sandbox-")
            scratch_root = self._host_tmp
            cmd = []
            env = {"PATH": "/usr/bin:/bin", "HOME": scratch_root}
            env["PYTHONHASHSEED"] = str(self.hash_seed)
        namespace = "pid-namespace" if self.level == "bwrap" else "host"
        user = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if drop else {}
        try:
            self.proc = subprocess.Popen(
                cmd + flags + [scratch_root, namespace],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=scratch_root if self.level == "process" else "/",
                start_new_session=True,
                pass_fds=() if seccomp_fd is None else (seccomp_fd,),
                **user,
            )
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        hello = self._read(deadline=time.monotonic() + 30)
        if not isinstance(hello, dict) or not hello.get("ready"):
            self.stop()
            raise SandboxError(f"the sandbox worker did not start (level {self.level})")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait()
        if self.proc is not None:  # a replaced worker must not leave its pipes open
            for pipe in (self.proc.stdin, self.proc.stdout):
                try:
                    pipe.close()
                except OSError:  # unflushed bytes to a dead worker
                    pass
        if self._host_tmp:
            shutil.rmtree(self._host_tmp, ignore_errors=True)
            self._host_tmp = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _read(self, deadline: float) -> object:
        """One frame, None if the worker died or stalled past `deadline`, or WireError."""
        fd = self.proc.stdout.fileno()
        data = b""
        need = 4
        header_done = False
        while len(data) < need:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, min(need - len(data), 1 << 20))
            if not chunk:
                return None
            data += chunk
            if not header_done and len(data) == 4:
                need, data, header_done = struct.unpack(">I", data)[0], b"", True
                if need > self._frame_limit():
                    return WireError(f"a reply of {need} bytes")
        try:
            return unpack(data)
        except WireError as e:
            return e

    def _frame_limit(self) -> int:
        # JSON may spell each byte of captured output as a 6-character escape.
        return min(MAX_FRAME, 6 * self.limits.max_output + (16 << 20))

    def run(self, job: dict) -> dict:
        """Send a job and wait for its raw result; a dead, stalled or broken worker is replaced."""
        payload = pack(job)
        try:
            self.proc.stdin.write(payload)
            self.proc.stdin.flush()
            # The worker enforces the timeout itself; this margin only catches a stopped worker.
            reply = self._read(deadline=time.monotonic() + self.limits.timeout + 10)
        except (BrokenPipeError, OSError):
            reply = None
        if isinstance(reply, dict) and not reply.get("retire"):
            return reply
        if isinstance(reply, dict):  # the worker asked to be replaced after this run
            self.restart()
            return reply
        why = "sent a malformed reply" if isinstance(reply, WireError) else "died or stalled"
        logger.warning("a sandbox worker %s; restarting it", why)
        self.restart()
        return {
            "reports": [],
            "output": "",
            "worker_lost": True,
            "protocol_error": isinstance(reply, WireError),
        }


class Sandbox:
    """A pool of isolated fork-servers. Use as a context manager.

    Args:
        level: "auto" (bwrap if it works here, else the process level with a loud warning),
            "bwrap" (refuse to run without it) or "process".
        workers: parallel programs; defaults to the number of CPU cores.
        limits: per-program limits.
        hash_seed: the workers' PYTHONHASHSEED (0: string hashing, and so the order of sets of
            strings, is the same in every run).
    """

    def __init__(
        self,
        level: str = "auto",
        workers: int | None = None,
        limits: Limits | None = None,
        hash_seed: int = 0,
    ):
        self.level, self.hash_seed, self._workers = resolve_level(level), hash_seed, workers
        self._siblings: dict[int, Sandbox] = {}
        if self.level == "process":
            logger.warning(PROCESS_LEVEL_WARNING)
        self.limits = limits or Limits()
        self._hardening = hardening() if self.level == "bwrap" else {}
        missing = [k for k, v in self._hardening.items() if v is False]
        if missing:
            logger.warning(
                "sandbox: running without %s (%s); see SECURITY.md",
                ", ".join(missing),
                self._hardening.get("seccomp_missing_because") or "old bubblewrap",
            )
        n = workers or len(os.sched_getaffinity(0))
        self._free: list[_Worker] = [_Worker(self.level, self.limits, hash_seed) for _ in range(n)]
        self._lock = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="sandbox")

    def describe(self) -> dict:
        """What judged the outputs; written into every metadata sidecar."""
        return {
            "level": self.level,
            "workers": self._pool._max_workers,
            "limits": asdict(self.limits),
            "hardening": self._hardening,
        }

    def run(self, job: dict) -> dict:
        """Run one job (`solution`, `setup`, `tests`, `entry_point`) and return its raw result."""
        with self._lock:
            while not self._free:
                self._lock.wait()
            worker = self._free.pop()
        try:
            return worker.run({**job, "limits": asdict(self.limits)})
        finally:
            with self._lock:
                self._free.append(worker)
                self._lock.notify()

    def map(self, fn: Callable[[dict, dict], object], jobs: Iterable[dict]) -> Iterator[object]:
        """Run jobs in parallel across the workers; yields `fn(job, raw_result)` in input order."""
        return self._pool.map(lambda job: fn(job, self.run(job)), jobs)

    def sibling(self, hash_seed: int) -> Sandbox:
        """A sandbox like this one but for its PYTHONHASHSEED, opened on first use and closed with
        this one: the curriculum checks run a reference under two hash seeds to catch outputs that
        depend on the order of a set or dict of strings."""
        if hash_seed == self.hash_seed:
            return self
        if hash_seed not in self._siblings:
            level = "process" if self.level == "process" else "bwrap"  # warned once already
            self._siblings[hash_seed] = Sandbox(level, self._workers, self.limits, hash_seed)
        return self._siblings[hash_seed]

    def close(self) -> None:
        for sibling in self._siblings.values():
            sibling.close()
        self._siblings.clear()
        self._pool.shutdown(wait=True)
        for worker in self._free:
            worker.stop()
        self._free.clear()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class SandboxConfig:
    """Isolation and limits for model-written code: the flags of `core.cli.add_sandbox_args`."""

    sandbox: str = "auto"
    workers: int | None = None
    timeout: float = 5.0
    memory_mb: int = 1024

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError("--workers must be >= 1")
        if not self.timeout > 0 or self.memory_mb < 1:
            raise ValueError("--timeout must be > 0 and --memory_mb >= 1")

    def open(self) -> Sandbox:
        """A started Sandbox with these settings (use it as a context manager)."""
        limits = Limits(
            timeout=self.timeout,
            cpu_seconds=max(1, math.ceil(self.timeout)),
            memory_mb=self.memory_mb,
        )
        return Sandbox(level=self.sandbox, workers=self.workers, limits=limits)
