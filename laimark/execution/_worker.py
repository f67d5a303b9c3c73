"""Fork-server that judges one program at a time; runs inside the sandbox, standard library only.

`laimark.execution.sandbox` starts it with `python -S -s -B -c <_wire.py + this file>`, so it imports
nothing from the host's project or venv. Its processes, all inside the sandbox's pid namespace:

* the *server* reads jobs from the host and writes back results. Under bubblewrap it is pid 1 of
  the namespace (`--as-pid-1`): no other process there holds the host's pipes, and as init it
  receives no signal sent from inside (it handles none). It is non-dumpable, so its memory and
  descriptors are closed to every other process of the same uid.
* the *zygote*, forked by the server before the first job: its memory has never held a job. For
  each run it forks a blank *candidate* and hands it the candidate's end of a channel to the judge.
* per run, the *judge*, forked by the server (trusted code only): it sends the candidate the
  solution, runs the problem's setup and tests, and reports one result per test to the server on a
  pipe the candidate never holds.
* the *candidate* runs the solution and answers the judge's calls of the entry point, and nothing
  else: the tests, their expected values and other runs' solutions were never in its memory.

Values cross between judge and candidate in the tagged JSON of `_wire.py`, rebuilt on the
judge's side as standard types only. So exiting early, printing, objects whose `__eq__` is always
true, patched builtins, reading the tests from memory, and forging the judge's report all fail.
After each run every process but the server and the zygote is killed, and /tmp and /dev/shm are
wiped. Few modules are imported: each one adds to what every fork maps.
"""

import _signal
import _socket
import builtins
import ctypes
import gc
import os
import resource
import select
import struct
import sys
import time

if __name__ != "__main__":  # imported on the host (tests); in the sandbox the wire code comes first
    from laimark.execution._wire import (
        CAPTURE_NAME,
        WireError,
        bounded,
        decode,
        encode,
        exception_reason,
        identifier,
        pack,
        read_frame,
        split_frames,
        write_frame,
    )

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
# Signal numbers, the same on Linux and macOS; the signal module would pull in enum.
SIGINT, SIGKILL, SIGCONT, SIGXCPU, SIGXFSZ = 2, 9, 18, 24, 25
# A run's processes in the pid namespace besides what the code starts: server, zygote, judge,
# the zygote's short-lived intermediate child, candidate.
RUN_PROCESSES = 5
MAX_REPORT = 64 << 10
MAX_VALUE = 16 << 10  # a labelled output bigger than this is not a test's expected value
KILL_SECONDS = 5.0
PRISTINE_BUILTINS = dict(vars(builtins))  # builtins as they are before any run, for the tests
# Exceptions the judge re-raises as themselves; StopIteration is not one: raised inside a test's
# `all(map(f, xs))` it would end the iteration early and pass the test.
UNSAFE_TO_RAISE = ("StopIteration", "StopAsyncIteration")
LOAD_REASONS = {
    "SyntaxError": "syntax_error",
    "IndentationError": "syntax_error",
    "TabError": "syntax_error",
    "SystemExit": "exited",
    "KeyboardInterrupt": "exited",
    "MemoryError": "memory",
    "RecursionError": "recursion",
}


def prctl(option, value):
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def message(exc):
    """`str(exc)`, bounded, even when the exception's own __str__ misbehaves."""
    try:
        return bounded(str(exc))
    except BaseException:  # noqa: BLE001 - an untrusted __str__ may raise anything
        return "<unprintable>"


def describe(exc):
    """'Type: message', bounded."""
    name = getattr(exc, "candidate_name", None) or identifier(type(exc).__name__)
    return bounded(f"{name}: {message(exc)}")


# ---------------------------------------------------------------- candidate side
def candidate_process(chan, w_out):
    """A fresh fork of the zygote: take the solution from the judge, run it. Never returns."""
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(w_out, 1)
        os.dup2(w_out, 2)
        close_fds_except({0, 1, 2, chan})
        kind, solution, scratch, limits, base = read_frame(chan)
        os.chdir(scratch)
        set_limits(limits, base)
        gc.enable()  # untrusted code may rely on collecting its cycles
    except BaseException:  # noqa: BLE001 - the judge sees the channel close
        os._exit(1)
    candidate_main(chan, solution)


def candidate_main(chan, solution):
    """Run the untrusted code, then answer calls until the judge goes away. Never returns."""
    ns = {"__name__": "__laimark_solution__", "__builtins__": builtins}
    try:
        code = compile(solution, "<solution>", "exec")
    except (SyntaxError, ValueError) as e:  # ValueError: null bytes in the source
        write_frame(chan, ["load_error", "SyntaxError", describe(e)])
        os._exit(0)
    try:
        exec(code, ns)
    except BaseException as e:  # noqa: BLE001 - any failure of untrusted code is a verdict
        write_frame(chan, ["load_error", builtin_base(e), describe(e)])
        os._exit(0)
    write_frame(chan, ["loaded"])
    while True:
        try:
            request = read_frame(chan)
        except (EOFError, WireError, OSError):
            os._exit(0)
        write_frame(chan, answer(ns, request))


def builtin_base(exc):
    """The name of the first built-in exception class `exc` is an instance of."""
    for cls in type(exc).__mro__:
        if PRISTINE_BUILTINS.get(cls.__name__) is cls:
            return cls.__name__
    return "Exception"


def answer(ns, request):
    _, name, args, kwargs = request
    if name not in ns:
        return ["missing"]
    try:
        result = ns[name](*decode(args), **decode(kwargs))
        return ["ok", encode(result)]
    except BaseException as e:  # noqa: BLE001
        return ["raise", identifier(type(e).__name__), builtin_base(e), message(e)]


# ---------------------------------------------------------------- judge side
class CandidateExited(BaseException):
    """The candidate is gone or broke the protocol; a BaseException so that tests cannot catch it.
    `reason` is "exited", "protocol_error", or "candidate_gone" (the server fills in why)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class CandidateError(Exception):
    """An exception the candidate raised that the judge does not re-raise as itself."""


class Link:
    """The judge's end of its channel to the candidate."""

    def __init__(self, chan):
        self.chan, self.dead = chan, None

    def fail(self, reason):
        self.dead = self.dead or reason
        raise CandidateExited(self.dead)

    def send(self, msg):
        if self.dead:
            raise CandidateExited(self.dead)
        try:
            write_frame(self.chan, msg)
        except OSError:
            self.fail("candidate_gone")

    def receive(self):
        """One reply as a non-empty list; the candidate is gone or broken otherwise."""
        if self.dead:
            raise CandidateExited(self.dead)
        try:
            reply = read_frame(self.chan)
        except (EOFError, OSError):
            self.fail("candidate_gone")
        except WireError:
            self.fail("protocol_error")
        if type(reply) is not list or not reply or type(reply[0]) is not str:
            self.fail("protocol_error")
        return reply

    def call(self, name, args, kwargs):
        try:
            request = ["call", name, encode(list(args)), encode(kwargs)]
        except (TypeError, ValueError) as e:
            raise TypeError(f"an argument cannot cross the sandbox boundary: {e}") from None
        self.send(request)
        return self.receive()


def make_proxy(link, name):
    def proxy(*args, **kwargs):
        reply = link.call(name, args, kwargs)
        kind = reply[0]
        if kind == "ok" and len(reply) == 2:
            try:
                return decode(reply[1])
            except WireError:
                link.fail("protocol_error")
        if kind == "missing" and len(reply) == 1:
            raise NameError(f"name '{name}' is not defined by the solution")
        if kind == "raise" and len(reply) == 4 and all(type(v) is str for v in reply[1:]):
            raise_as_candidate(*reply[1:])
        link.fail("protocol_error")

    proxy.__name__ = proxy.__qualname__ = name
    return proxy


def raise_as_candidate(name, base, message):
    """Raise what the candidate raised, as the judge's own built-in class where that is safe."""
    message = bounded(message)
    if base in ("SystemExit", "KeyboardInterrupt"):
        raise CandidateExited("exited")
    cls = PRISTINE_BUILTINS.get(base)
    if isinstance(cls, type) and issubclass(cls, Exception) and base not in UNSAFE_TO_RAISE:
        exc = cls(message)
    else:
        exc = CandidateError(message)
    exc.candidate_name = identifier(name)
    raise exc


_CODE_CACHE = {}


def compiled(source, name):
    """Compile trusted setup/test code; cached in the server so a problem judged K times (or
    164 x n samples) compiles its tests once. The candidate, a fork of the zygote, never sees it."""
    key = (source, name)
    code = _CODE_CACHE.get(key)
    if code is None:
        if len(_CODE_CACHE) > 4096:
            _CODE_CACHE.clear()
        code = _CODE_CACHE[key] = compile(source, name, "exec")
    return code


def precompile(job):
    """Fill the cache before forking so that the judge inherits the code objects."""
    for i, unit in enumerate(job["tests"]):
        try:
            compiled(unit, f"<test {i}>")
        except SyntaxError:
            pass  # reported by the judge, which compiles it again
    try:
        compiled(job.get("setup", ""), "<setup>")
    except SyntaxError:
        pass


def classify(exc):
    if isinstance(exc, CandidateExited):
        return exc.reason
    if isinstance(exc, AssertionError):
        return "assertion"
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, RecursionError):
        return "recursion"
    return exception_reason(getattr(exc, "candidate_name", None) or type(exc).__name__)


def loaded(link, report):
    """Wait for the candidate's first frame; report why it failed to load, if it did."""
    try:
        first = link.receive()
    except CandidateExited as e:
        report({"load_error": e.reason, "detail": "the solution ended while loading"})
        return False
    if first == ["loaded"]:
        return True
    if first[0] == "load_error" and len(first) == 3 and all(type(v) is str for v in first[1:]):
        reason = LOAD_REASONS.get(first[1]) or exception_reason(first[1])
        report({"load_error": reason, "detail": bounded(first[2])})
    else:
        report({"load_error": "protocol_error", "detail": "malformed first frame"})
    return False


def judge_main(job, link, report):
    """Run setup and tests in this (trusted) process; report one result per test."""
    # Only the entry point comes from the candidate: a name the tests use but do not define is
    # a NameError, never a value the candidate chose.
    ns = {"__name__": "__laimark_tests__", "__builtins__": dict(PRISTINE_BUILTINS)}
    if not loaded(link, report):
        return
    try:
        exec(compiled(job.get("setup", ""), "<setup>"), ns)
    except BaseException as e:  # noqa: BLE001
        report({"setup_error": classify(e), "detail": describe(e)})
        return
    # After the setup, so that a stub of the entry point in the prompt cannot shadow the candidate.
    ns[job["entry_point"]] = make_proxy(link, job["entry_point"])
    capture = job.get("capture") is True
    for i, unit in enumerate(job["tests"]):
        try:
            exec(compiled(unit, f"<test {i}>"), ns)
            if capture:
                # Labelling: the unit stored the entry point's result; it goes back re-encoded
                # from the judge's own copy (standard types only), bounded like any report.
                value = encode(ns.pop(CAPTURE_NAME, None))
                if len(pack(value)) > MAX_VALUE:
                    raise ValueError("the value is too large to label a test with")
                report({"i": i, "ok": True, "value": value})
            else:
                report({"i": i, "ok": True})
        except SyntaxError as e:
            report({"i": i, "ok": False, "reason": "test_syntax_error", "detail": describe(e)})
        except BaseException as e:  # noqa: BLE001
            report({"i": i, "ok": False, "reason": classify(e), "detail": describe(e)})


def run_judge(job, cfg, scratch, w_res, w_out, chan):
    """The judge process. Never returns."""
    try:
        gc.disable()  # a run lives milliseconds; collection would only copy pages
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(w_out, 1)
        os.dup2(w_out, 2)
        close_fds_except({0, 1, 2, w_res, chan})
        os.chdir(scratch)
        set_limits(job["limits"], cfg["base_processes"])
        link = Link(chan)

        def report(obj):
            write_frame(w_res, obj)

        try:
            link.send(["run", job["solution"], scratch, job["limits"], cfg["base_processes"]])
        except CandidateExited:
            pass  # reported as a load failure by judge_main
        judge_main(job, link, report)
        report({"done": True})
    except BaseException:  # noqa: BLE001 - a judge that breaks shows why in the run's output
        import traceback

        traceback.print_exc()
    finally:
        os._exit(0)


# ---------------------------------------------------------------- the zygote
class Zygote:
    """The server's handle on the zygote: a pid and a socket that carries descriptors."""

    def __init__(self):
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            zygote_main(theirs.detach())
        theirs.close()
        self.pid, self.sock = pid, ours

    def spawn(self, fds):
        """Ask for a candidate holding `fds`."""
        rights = struct.pack(f"{len(fds)}i", *fds)
        self.sock.sendmsg([b"c"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])

    def spawned(self, deadline):
        """The new candidate's pid, or None if the zygote did not answer in time."""
        data = self._receive(4, deadline)
        return struct.unpack(">I", data)[0] or None if data else None

    def alive(self, deadline):
        """Whether the zygote still answers. A run may have sent it a signal that kills it only
        now; a process with a kill pending never answers, so this cannot be fooled by timing."""
        try:
            self.sock.send(b"p")
        except OSError:
            return False
        return self._receive(1, deadline) == b"p"

    def _receive(self, n, deadline):
        data = b""
        while len(data) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
                return None
            try:
                chunk = self.sock.recv(n - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data


def zygote_main(fd):
    """Fork a blank candidate per request; its memory holds no job. Never returns."""
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(null, std)
        close_fds_except({0, 1, 2, fd})
        sock = _socket.socket(fileno=fd)
        while True:
            kind, fds = receive_fds(sock)
            if kind == b"c":
                fork_candidate(sock, fds)
            elif kind == b"p":
                sock.sendall(b"p")
            else:
                break
    except BaseException:  # noqa: BLE001 - the server notices that the zygote is gone
        pass
    os._exit(0)


def receive_fds(sock):
    data, ancillary, _, _ = sock.recvmsg(1, _socket.CMSG_SPACE(2 * 4))
    fds = []
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += struct.unpack(f"{len(payload) // 4}i", payload[: len(payload) // 4 * 4])
    return data, fds


def fork_candidate(sock, fds):
    """Double fork, so that the candidate's parent is the server, which reaps and kills it."""
    middle = os.fork()
    if middle == 0:
        pid = 0  # tells the server that there is no candidate
        if len(fds) == 2:
            try:
                pid = os.fork()
            except OSError:
                pass
            else:
                if pid == 0:
                    candidate_process(*fds)
        sock.sendall(struct.pack(">I", pid))
        os._exit(0)
    for fd in fds:
        os.close(fd)
    os.waitpid(middle, 0)


# ---------------------------------------------------------------- one run
def set_limits(limits, base_processes=0):
    cpu = max(1, int(limits["cpu_seconds"]))
    mem = int(limits["memory_mb"]) << 20
    fsize = int(limits["fsize_mb"]) << 20
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    if limits.get("nproc"):
        n = (base_processes or count_own_processes()) + int(limits["nproc"])
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def close_fds_except(keep):
    """Close every descriptor not in `keep` (os.closerange uses close_range(2): two syscalls)."""
    last = -1
    for fd in sorted(keep):
        if fd > last + 1:  # os.closerange(n, n) is not a no-op on every Python: skip empty ranges
            os.closerange(last + 1, fd)
        last = fd
    os.closerange(last + 1, 1 << 20)


def pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def count_own_processes():
    uid, n = os.getuid(), 0
    for pid in pids():
        try:
            n += os.stat(f"/proc/{pid}").st_uid == uid
        except OSError:
            pass
    return n


def descendants(root):
    parents = {}
    for pid in pids():
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            parents[pid] = int(stat.rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    found, frontier = [], {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier and p not in found}
        found.extend(frontier)
    return found


def kill_everything(zygote_pid, in_pid_namespace, known=()):
    """Kill every process but the server and the zygote, however it detached itself, and reap
    them all (the server is the namespace's init or a subreaper, so they end up its children).
    Returns the wait status of every child reaped, the zygote's included if it died."""
    me, statuses = os.getpid(), {}
    give_up = time.monotonic() + KILL_SECONDS
    while time.monotonic() < give_up:
        # The candidate may have stopped the zygote; continued after the last of the run's
        # processes is dead, it stays running for the next run.
        try:
            os.kill(zygote_pid, SIGCONT)
        except ProcessLookupError:
            pass
        found = pids() if in_pid_namespace else descendants(me)
        victims = [p for p in found if p not in (me, zygote_pid)]
        for pid in victims:
            try:
                os.kill(pid, SIGKILL)
            except ProcessLookupError:
                pass
        reaped = False
        for pid in known if victims else ():  # the usual case: wait for them, do not poll
            try:
                statuses[pid], reaped = os.waitpid(pid, 0)[1], True
            except ChildProcessError:
                pass
        known = ()
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            statuses[pid], reaped = status, True
        if not victims:
            return statuses
        if not reaped:
            time.sleep(0.0001)  # killed processes take a moment to die
    statuses[zygote_pid] = None  # something would not die: retire this worker
    return statuses


def exit_reason(status):
    """Why the candidate went away, from its wait status."""
    if status is None:
        return "killed"
    if os.WIFSIGNALED(status):
        return {SIGXCPU: "timeout", SIGXFSZ: "file_too_large"}.get(os.WTERMSIG(status), "killed")
    return "exited"


def collect(r_res, r_out, deadline, max_output):
    """Read result frames and (capped) output until the judge closes its end or time is up."""
    res, out, out_len, truncated, timed_out = [], [], 0, False, False
    done_frame = pack({"done": True})
    open_fds = {r_res, r_out}
    while r_res in open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select(list(open_fds), [], [], remaining)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
            elif fd == r_res:
                res.append(chunk)
                if chunk.endswith(done_frame):
                    open_fds.discard(r_res)  # the judge is finished; no need to watch it exit
            elif out_len < max_output:
                out.append(chunk[: max_output - out_len])
                out_len += len(out[-1])
                truncated = truncated or out_len >= max_output and len(chunk) > len(out[-1])
            else:
                truncated = True
    # Drain what is already buffered in the output pipe without waiting for stragglers.
    while r_out in open_fds and select.select([r_out], [], [], 0)[0]:
        chunk = os.read(r_out, 65536)
        if not chunk:
            break
        if out_len < max_output:
            out.append(chunk[: max_output - out_len])
            out_len += len(out[-1])
        else:
            truncated = True
    output = b"".join(out).decode("utf-8", "replace")
    try:
        reports = split_frames(b"".join(res), MAX_REPORT)
    except WireError:
        reports = [{"protocol_error": True}]
    return reports, output, truncated, timed_out


def with_exit_reason(reports, reason):
    """Fill in why the candidate went away wherever the judge only saw it go."""
    for report in reports:
        for key in ("reason", "load_error"):
            if isinstance(report, dict) and report.get(key) == "candidate_gone":
                report[key] = reason
    return reports


def sandboxed_mounts():
    """True only inside the sandbox's own mounts: a read-only root and a tmpfs on /tmp. Wiping
    /tmp after each run is right there, and would destroy a host's /tmp anywhere else."""
    root_ro = tmp_tmpfs = False
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mount_point, options = fields[4], fields[5].split(",")
            fstype = fields[fields.index("-") + 1]
            if mount_point == "/":
                root_ro = "ro" in options
            elif mount_point == "/tmp":
                tmp_tmpfs = fstype == "tmpfs"
    return root_ro and tmp_tmpfs


DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def wipe(path):
    """Remove everything below `path` (not `path` itself), never following links. Iterative and
    relative to directory descriptors, so neither depth nor path length can stop it."""
    try:
        fd = os.open(path, DIR_FLAGS)
    except OSError:
        return
    depth = 0
    while True:
        child = _empty_one_level(fd)
        if child is not None:
            os.close(fd)
            fd, depth = child, depth + 1
            continue
        if depth == 0:
            break
        parent = os.open("..", DIR_FLAGS, dir_fd=fd)
        os.close(fd)
        fd, depth = parent, depth - 1
    os.close(fd)


def _empty_one_level(fd):
    """Unlink files and empty directories in `fd`; return a descriptor of the first non-empty
    subdirectory to descend into, or None once `fd` is empty (or nothing more can be removed)."""
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.name, dir_fd=fd)
                    continue
                try:
                    os.rmdir(entry.name, dir_fd=fd)
                except OSError:
                    return os.open(entry.name, DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue
    return None


def run_job(job, cfg, zygote):
    start = time.monotonic()
    limits = job["limits"]
    precompile(job)
    cfg["runs"] += 1
    scratch = os.path.join(cfg["scratch_root"], f"run-{cfg['runs']}")
    os.mkdir(scratch, 0o700)
    r_res, w_res = os.pipe()
    r_out, w_out = os.pipe()
    pair = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    judge_end, candidate_end = (s.detach() for s in pair)
    try:
        zygote.spawn([candidate_end, w_out])
    except OSError:
        pass  # no candidate arrives: the run is lost and the worker retires
    os.close(candidate_end)
    pid = os.fork()
    if pid == 0:
        os.close(r_res)
        os.close(r_out)
        run_judge(job, cfg, scratch, w_res, w_out, judge_end)
    for fd in (w_res, w_out, judge_end):
        os.close(fd)
    deadline = start + float(limits["timeout"])
    candidate = zygote.spawned(deadline)
    reports, output, truncated, timed_out = [], "", False, False
    if candidate:
        reports, output, truncated, timed_out = collect(
            r_res, r_out, deadline, int(limits["max_output"])
        )
    os.close(r_res)
    os.close(r_out)
    statuses = kill_everything(zygote.pid, cfg["pid_namespace"], (pid, candidate or pid))
    with_exit_reason(reports, exit_reason(statuses.get(candidate)))
    wipe(scratch)
    os.rmdir(scratch)
    if cfg["private_tmp"]:  # clear whatever the run left anywhere it could write
        for path in ("/tmp", "/dev/shm"):
            if os.path.isdir(path):
                wipe(path)
    lost = not candidate or zygote.pid in statuses or not zygote.alive(time.monotonic() + 2)
    return {
        "reports": reports,
        "output": output,
        "output_truncated": truncated,
        "timed_out": timed_out,
        "duration": time.monotonic() - start,
        "worker_lost": not candidate,
        # A zygote that a run killed cannot be replaced from here: a new one forked from this
        # server would hold what earlier jobs left in its memory. The host starts a new worker.
        "retire": lost,
    }


# Modules that problems and answers import all the time (typing alone is in 40% of HumanEval
# prompts). Imported once here, every forked run finds them loaded instead of paying 5-25 ms per
# import in both of its processes. Each one adds a little to what a fork copies: keep it short.
PRELOAD = (
    "typing",
    "math",
    "re",
    "collections",
    "itertools",
    "functools",
    "heapq",
    "string",
    "bisect",
    "copy",
    "operator",
)


def preload():
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass


def main():
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    # Init receives from inside its namespace only the signals it handles; Python handles SIGINT.
    _signal.signal(SIGINT, _signal.SIG_DFL)
    cfg = {"scratch_root": sys.argv[1], "pid_namespace": sys.argv[2] == "pid-namespace", "runs": 0}
    os.makedirs(cfg["scratch_root"], exist_ok=True)
    cfg["base_processes"] = RUN_PROCESSES if cfg["pid_namespace"] else 0
    cfg["private_tmp"] = cfg["pid_namespace"] and sandboxed_mounts()
    preload()
    # Objects that exist now are never collected: keeps the collector from touching (and so
    # copying) the server's pages in every forked child.
    gc.freeze()
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    # Keep the channel to the parent away from fds 0-2, which each run rewires.
    chan_in, chan_out = os.dup(stdin), os.dup(stdout)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, stdin)
    os.dup2(null, stdout)
    zygote = Zygote()
    write_frame(chan_out, {"ready": True})
    while True:
        try:
            job = read_frame(chan_in)
        except (EOFError, WireError):
            return
        reply = run_job(job, cfg, zygote)
        write_frame(chan_out, reply)
        if reply["retire"]:
            return


if __name__ == "__main__":
    main()
