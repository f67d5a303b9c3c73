"""Red-team snippets against the bwrap sandbox: one security property per test.

Where `test_sandbox.py` covers the basics (network, files, limits, faking a pass from inside the
candidate's own process), this file covers the holes a red-team found in the fork-server design:

* forged protocol frames (today's marshal frames and the JSON frames of the new wire format)
  written to every descriptor the candidate holds or can reach through /proc/<pid>/fd/<n> and
  pidfd_getfd, and whether such a forgery can take over the runs that follow;
* what the candidate can read: the host's environment and paths in /proc/*/environ and
  /proc/*/cmdline, the tests and expected values (or an earlier run's solution) in its own memory;
* what crosses the boundary: reasons from a closed set, bounded details, values that keep their
  type, free names of the tests never looked up in the candidate, no StopIteration ending a test;
* the kernel surface: a read-only /dev, size-limited tmpfs mounts, System V and POSIX IPC that do
  not outlive a run, a seccomp filter on namespaces, io_uring, userfaultfd, keyrings, bpf, perf
  and ptrace;
* the host and the workers survive: enormous exception names and messages, a deep directory tree
  left in /tmp, a completion that kills or stops every process it can see.

Each snippet runs for real in bubblewrap (nothing is mocked) through the public API only:
`laimark.execution.harness.judge` on a `Sandbox(level="bwrap")`. The assertions describe the behaviour the
sandbox must have; several of them document holes of the current design and fail until it is
rewritten (zygote-forked candidates, `--as-pid-1`, JSON frames, seccomp).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from laimark.execution.harness import judge
from laimark.execution.sandbox import Limits, Sandbox, bwrap_usable

pytestmark = pytest.mark.skipif(not bwrap_usable()[0], reason="bubblewrap not usable here")

SECRET = "laimark-hostile-secret-" + secrets.token_hex(8)
TOKEN = secrets.token_hex(8)  # makes names and keys of this session unique
REASONS = {
    "passed",
    "syntax_error",
    "assertion",
    "timeout",
    "memory",
    "recursion",
    "exited",
    "killed",
    "file_too_large",
    "setup_error",
    "test_syntax_error",
    "no_tests",
    "sandbox_error",
    "protocol_error",
}
MAX_REASON = 80
MAX_DETAIL = 2000

# The harness keeps a completion from its first def/import/class line on: code that must run at
# load time, before the def, follows an import.
LOAD = "import os\n"
CORRECT = "def f(x):\n    return 3 * x\n"
WRONG = "def f(x):\n    return None\n"
TESTS = "assert f(1) == 3\nassert f(2) == 6"


@pytest.fixture(scope="module")
def sandbox():
    os.environ["LAIMARK_HOSTILE_SECRET"] = SECRET  # the sandbox must not pass it on
    limits = Limits(timeout=2.0, cpu_seconds=2, memory_mb=512, fsize_mb=1, nproc=8, max_output=4096)
    try:
        with Sandbox(level="bwrap", workers=2, limits=limits) as sb:
            yield sb
    finally:
        os.environ.pop("LAIMARK_HOSTILE_SECRET", None)


def run(sandbox, solution: str, tests: str, entry_point: str = "f"):
    problem = SimpleNamespace(prompt="", tests=tests, entry_point=entry_point)
    return judge(sandbox, problem, textwrap.dedent(solution), mode="function")


def probe(sandbox, body: str, prelude: str = ""):
    """Run `body` inside f() (after the module-level `prelude`); passes if f returned 'held'.
    Anything else it returned shows in the verdict's detail."""
    solution = textwrap.dedent(prelude) + "\ndef f():\n"
    solution += textwrap.indent(textwrap.dedent(body), "    ")
    return run(sandbox, solution, "r = f()\nassert r == 'held', r")


def reason_ok(reason) -> bool:
    """A reason from the closed set, or exception:<identifier of at most 64 characters>."""
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        return False
    if reason in REASONS:
        return True
    name = reason.removeprefix("exception:")
    return reason.startswith("exception:") and name.isidentifier() and len(name) <= 64


def assert_sane(v) -> None:
    """A normal Verdict: closed-set reasons, bounded detail, consistent pass flag."""
    assert reason_ok(v.reason), v.reason[:200] if isinstance(v.reason, str) else v.reason
    assert all(reason_ok(t) for t in v.tests), [str(t)[:200] for t in v.tests]
    assert isinstance(v.detail, str) and len(v.detail) <= MAX_DETAIL, len(v.detail)
    assert v.passed == (v.reason == "passed"), (v.passed, v.reason)
    assert v.n_passed == v.tests.count("passed") and v.n_tests == len(v.tests)


def assert_fails_cleanly(v) -> None:
    """A hostile run: not passed, not a single test passed, and a normal Verdict."""
    assert_sane(v)
    assert not v.passed and v.n_passed == 0, v


def assert_still_judges(sandbox, rounds: int = 4) -> None:
    """Later runs on the same sandbox (whichever worker takes them) are judged correctly."""
    for _ in range(rounds):
        good = run(sandbox, CORRECT, TESTS)
        assert good.passed and good.n_passed == 2, good
        bad = run(sandbox, WRONG, TESTS)
        assert not bad.passed and bad.n_passed == 0 and bad.reason == "assertion", bad


# ---------------------------------------------------------------- forged frames
# Messages a forger would like the judge, the server or the host to read, in both encodings: the
# marshal frames of today's protocol and the JSON frames of the new one (4-byte big-endian length
# + payload in both). TO_JUDGE imitates the candidate's protocol, TO_HOST the judge's reports and
# the server's reply to the host.
FORGE = """
import ctypes, json, marshal, os, struct

TO_JUDGE = [["load_error", "passed", "x" * 50000], ["loaded"], ["ok", True], ["ok", True]]
REPORTS = [{"i": 0, "ok": True}, {"i": 1, "ok": True}, {"done": True}]
HOST_REPLY = {
    "reports": REPORTS, "output": "", "output_truncated": False, "timed_out": False,
    "duration": 0.0,
}
TO_HOST = [HOST_REPLY, *REPORTS]


def frames(messages, encoding):
    out = b""
    for m in messages:
        if encoding == "marshal":
            payload = marshal.dumps(tuple(m) if isinstance(m, list) else m)
        else:
            payload = json.dumps(m).encode()
        out += struct.pack(">I", len(payload)) + payload
    return out


def put(fd, data):
    try:
        os.write(fd, data)
    except OSError:
        pass


def spray_own(data):
    for fd in range(256):
        put(fd, data)


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def spray_proc(data):
    for pid in pids():
        for n in range(256):
            try:
                fd = os.open(f"/proc/{pid}/fd/{n}", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            put(fd, data)
            os.close(fd)


libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def syscall(nr, *args):
    return libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))


def spray_pidfd(data):
    for pid in pids():
        pidfd = syscall(434, pid, 0)  # pidfd_open
        if pidfd < 0:
            continue
        for n in range(256):
            fd = syscall(438, pidfd, n, 0)  # pidfd_getfd
            if fd >= 0:
                put(fd, data)
                os.close(fd)
        os.close(pidfd)
"""

ENCODINGS = ["marshal", "json"]


@pytest.mark.parametrize("when", ["load", "call"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_forged_frames_on_its_own_descriptors_do_not_pass(sandbox, encoding, when):
    attack = f"spray_own(frames(TO_JUDGE + TO_HOST, {encoding!r}))\n"
    if when == "load":
        solution = FORGE + attack + "def f(x):\n    return 0\n"
    else:
        solution = FORGE + "def f(x):\n" + textwrap.indent(attack, "    ") + "    return 0\n"
    assert_fails_cleanly(run(sandbox, solution, TESTS))
    assert_still_judges(sandbox, rounds=2)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_forged_frames_through_proc_fd_do_not_pass(sandbox, encoding):
    solution = FORGE + (
        f"def f(x):\n    spray_proc(frames(TO_HOST + TO_JUDGE, {encoding!r}))\n    return 0\n"
    )
    assert_fails_cleanly(run(sandbox, solution, TESTS))
    assert_still_judges(sandbox, rounds=2)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_forged_frames_through_pidfd_getfd_do_not_pass(sandbox, encoding):
    solution = FORGE + (
        f"def f(x):\n    spray_pidfd(frames(TO_HOST + TO_JUDGE, {encoding!r}))\n    return 0\n"
    )
    assert_fails_cleanly(run(sandbox, solution, TESTS))
    assert_still_judges(sandbox, rounds=2)


PROC_FD_PROBE = """
import os
me, opened = os.getpid(), []
for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me]:
    for n in range(256):
        path = f"/proc/{pid}/fd/{n}"
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        if not target.startswith(("pipe:", "socket:", "anon_inode:", "?")):
            continue
        for mode in (os.O_RDONLY, os.O_WRONLY):
            try:
                fd = os.open(path, mode | os.O_NONBLOCK)
            except OSError:
                continue
            os.close(fd)
            opened.append((pid, n, target, mode))
return "held" if not opened else opened
"""


def test_candidate_cannot_reach_the_host_pipes_through_proc(sandbox):
    """No pipe or socket of another process (the host's channel, the judge's, the server's) can be
    reopened through /proc/<pid>/fd/<n>, for reading or for writing."""
    v = probe(sandbox, PROC_FD_PROBE)
    assert v.passed, v


NON_ROOT_PROBE = """
import json, sys
from types import SimpleNamespace
from laimark.execution.harness import judge
from laimark.execution.sandbox import Limits, Sandbox
problem = SimpleNamespace(prompt="", tests="assert f() == 'held', f()", entry_point="f")
with Sandbox(level="bwrap", workers=1, limits=Limits(timeout=5)) as sb:
    print(json.dumps(judge(sb, problem, sys.stdin.read(), mode="function").to_dict()))
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"),
    reason="needs root to switch to an unprivileged user, setpriv and /usr/bin/python3",
)
def test_as_a_non_root_host_user_the_host_pipes_are_out_of_reach():
    """Run by an ordinary user, the sandbox's processes share that user's uid: only their being
    non-dumpable keeps /proc/<pid>/fd closed (as root the uid switch hides this)."""
    root = Path(__file__).resolve().parents[1]
    # pytest's tmp_path lives below a directory only root may enter
    tmp_path = Path(tempfile.mkdtemp(prefix="laimark-nonroot-"))
    shutil.copytree(root / "laimark", tmp_path / "laimark")
    import pyseccomp

    shutil.copy(pyseccomp.__file__, tmp_path)
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    body = textwrap.dedent(PROC_FD_PROBE)
    solution = "def f():\n" + textwrap.indent(body, "    ")
    done = subprocess.run(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        + ["/usr/bin/python3", "-c", NON_ROOT_PROBE],
        input=solution,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(tmp_path)},
    )
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict["passed"], verdict


def test_candidate_cannot_take_descriptors_with_pidfd_getfd(sandbox):
    v = probe(
        sandbox,
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        me, taken = os.getpid(), []
        for pid in [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]:
            pidfd = libc.syscall(ctypes.c_long(434), ctypes.c_long(pid), ctypes.c_long(0))
            if pidfd < 0:
                continue
            for n in range(256):
                fd = libc.syscall(
                    ctypes.c_long(438), ctypes.c_long(pidfd), ctypes.c_long(n), ctypes.c_long(0)
                )
                if fd >= 0:
                    taken.append((pid, n, os.readlink(f"/proc/self/fd/{fd}")))
                    os.close(fd)
            os.close(pidfd)
        return "held" if not taken else taken
        """,
    )
    assert v.passed, v


def test_forgery_cannot_take_over_later_runs(sandbox):
    """Forged replies for the runs that follow (a pass each), queued wherever the candidate can
    write, must not decide those runs. Its own descriptors come last: they feed the judge, which
    then finishes and has the candidate killed."""
    attack = "".join(
        f"    {spray}(frames([HOST_REPLY] * 8 + REPORTS * 8, {enc!r}))\n"
        for spray in ("spray_pidfd", "spray_proc", "spray_own")
        for enc in ENCODINGS
    )
    v = run(sandbox, FORGE + "def f(x):\n" + attack + "    return 0\n", TESTS)
    assert_still_judges(sandbox, rounds=4)
    assert_fails_cleanly(v)


# ---------------------------------------------------------------- what the candidate can read
def test_no_process_environment_or_command_line_holds_the_secret(sandbox):
    v = probe(
        sandbox,
        f"""
        import os
        leaks = []
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
            for name in ("environ", "cmdline"):
                try:
                    with open(f"/proc/{{pid}}/{{name}}", "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                if {SECRET.encode()!r} in data:
                    leaks.append((pid, name))
        return "held" if not leaks else leaks
        """,
    )
    assert v.passed, v


def test_no_process_environment_or_command_line_names_host_paths(sandbox):
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [checkout, os.path.dirname(os.path.abspath(__file__))]
    home = os.path.expanduser("~").rstrip("/")
    if len(home) > 1:
        paths.append(home)
    patterns = [rb"(?<![\w.-])" + re.escape(p.encode()) + rb"(?![\w.-])" for p in paths]
    v = probe(
        sandbox,
        f"""
        import os, re
        patterns = [re.compile(p) for p in {patterns!r}]
        leaks = []
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
            for name in ("environ", "cmdline"):
                try:
                    with open(f"/proc/{{pid}}/{{name}}", "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                for rx in patterns:
                    m = rx.search(data)
                    if m:
                        leaks.append((pid, name, data[max(0, m.start() - 40) : m.end() + 40]))
        return "held" if not leaks else leaks
        """,
    )
    assert v.passed, v


# Looks for a bytes pattern everywhere in the candidate's reach: objects known to the collector,
# the frames above the solution and the raw memory of the process (its readable anonymous and
# heap mappings, read through /proc/self/mem or, if that is refused, ctypes; in a forked child,
# so that a fault there cannot hide what the other searches found).
SCAN = """
import ctypes, gc, os, re, sys, types


def scan_objects(rx):
    found, seen = set(), set()

    def look(obj, depth):
        if depth > 5 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, (str, bytes)):
            data = obj.encode("utf-8", "replace") if isinstance(obj, str) else obj
            found.update(m.group().decode() for m in rx.finditer(data))
        elif isinstance(obj, dict):
            for k, v in list(obj.items()):
                look(k, depth + 1)
                look(v, depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for e in list(obj):
                look(e, depth + 1)
        elif isinstance(obj, types.CodeType):
            look(obj.co_consts, depth + 1)
        elif isinstance(obj, types.FunctionType):
            look(obj.__code__, depth + 1)

    for obj in gc.get_objects():
        look(obj, 4)
    frame = sys._getframe()
    while frame is not None:
        look(frame.f_locals, 0)
        look(frame.f_globals, 2)
        look(frame.f_code, 2)
        frame = frame.f_back
    return found


def read_memory(rx):
    found = set()
    try:
        mem = open("/proc/self/mem", "rb", buffering=0)
    except OSError:
        mem = None
    with open("/proc/self/maps") as fh:
        regions = fh.read().splitlines()
    for line in regions:
        parts = line.split()
        if not parts[1].startswith("r") or (len(parts) > 5 and parts[5] != "[heap]"):
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        for at in range(start, end, 1 << 20):
            n = min((1 << 20) + 64, end - at)  # overlapping, for matches across chunks
            try:
                if mem is not None:
                    mem.seek(at)
                    data = mem.read(n)
                else:
                    data = ctypes.string_at(at, n)
            except (OSError, ValueError, OverflowError):
                break
            found.update(m.group() for m in rx.finditer(data))
    return found


def scan_memory(rx):
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no process to spare: search here
        os.close(r)
        os.close(w)
        return {x.decode() for x in read_memory(rx)}
    if pid == 0:
        found = set()
        try:
            found = read_memory(rx)
        finally:
            os.write(w, b"\\n".join(found)[:60000])
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return {x.decode() for x in data.split(b"\\n") if x}


def scan(pattern):
    rx = re.compile(pattern)
    return scan_objects(rx) | scan_memory(rx)
"""


def test_candidate_memory_holds_no_test_or_expected_value(sandbox):
    needle = "needle-" + secrets.token_hex(16)
    solution = SCAN + (
        "def f():\n"
        "    found = sorted(scan(rb'needle-[0-9a-f]{32}'))\n"
        "    return found[0] if found else 'nothing'\n"
    )
    v = run(sandbox, solution, f"assert f() == {needle!r}")
    assert_fails_cleanly(v)


def test_candidate_memory_holds_no_earlier_solution(sandbox):
    marker = "SECRET_SOLUTION_" + secrets.token_hex(16)
    first = run(sandbox, f"{LOAD}{marker} = 1\n{CORRECT}", TESTS)
    assert first.passed, first
    for _ in range(4):
        v = probe(
            sandbox,
            """
            found = scan(rb"SECRET_SOLUTION_[0-9a-f]{32}")
            return "held" if not found else sorted(found)
            """,
            prelude=SCAN,
        )
        assert v.passed, v


# ---------------------------------------------------------------- what crosses the boundary
@pytest.mark.parametrize(
    ("expr", "items"),
    [
        ("range(3)", [0, 1, 2]),
        ("(x for x in [1, 2])", [1, 2]),
        ("map(abs, [-1, -2])", [1, 2]),
        ("filter(None, [0, 1, 2])", [1, 2]),
        ("{1: 'a', 2: 'b'}.keys()", [1, 2]),
        ("{1: 'a', 2: 'b'}.values()", ["a", "b"]),
        ("{1: 'a', 2: 'b'}.items()", [(1, "a"), (2, "b")]),
    ],
    ids=["range", "generator", "map", "filter", "dict_keys", "dict_values", "dict_items"],
)
def test_returned_values_keep_their_type(sandbox, expr, items):
    tests = (
        f"assert not isinstance(f(), list)\nassert f() != {items!r}\nassert list(f()) == {items!r}"
    )
    v = run(sandbox, f"def f():\n    return {expr}\n", tests)
    assert v.passed, v


def test_tests_free_names_are_not_looked_up_in_the_candidate(sandbox):
    v = run(sandbox, LOAD + "EXPECTED = 3\ndef f():\n    return 3\n", "assert f() == EXPECTED")
    assert not v.passed, v
    assert v.reason == "exception:NameError", v


def test_stop_iteration_from_the_candidate_cannot_end_a_test_early(sandbox):
    v = run(sandbox, "def f(x):\n    raise StopIteration\n", "assert all(map(f, [1, 2, 3]))")
    assert_fails_cleanly(v)


# ---------------------------------------------------------------- the host never crashes
@pytest.mark.parametrize("when", ["load", "call"])
@pytest.mark.parametrize(
    "name",
    ['"E" * (8 << 20)', '"not an identifier\\n"', '": passed"'],
    ids=["enormous", "not-identifier", "colon"],
)
def test_exception_names_give_a_bounded_reason(sandbox, name, when):
    raise_it = f"raise type({name}, (Exception,), {{}})()\n"
    if when == "load":
        solution = LOAD + raise_it + "def f(x):\n    return 3 * x\n"
    else:
        solution = "def f(x):\n    " + raise_it
    assert_fails_cleanly(run(sandbox, solution, TESTS))
    assert_still_judges(sandbox, rounds=2)


@pytest.mark.parametrize("when", ["load", "call"])
def test_huge_exception_messages_give_a_bounded_detail(sandbox, when):
    raise_it = "raise ValueError('x' * (64 << 20))\n"
    if when == "load":
        solution = LOAD + raise_it + "def f(x):\n    return 3 * x\n"
    else:
        solution = "def f(x):\n    " + raise_it
    v = run(sandbox, solution, TESTS)
    assert_fails_cleanly(v)
    assert v.reason == "exception:ValueError", v.reason[:200]
    assert_still_judges(sandbox, rounds=2)


@pytest.mark.parametrize("signal", [9, 19], ids=["SIGKILL", "SIGSTOP"])
def test_killing_or_stopping_every_visible_process_fails_only_that_run(sandbox, signal):
    solution = f"""
    import os
    def f(x):
        me = os.getpid()
        for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
            if pid != me:
                try:
                    os.kill(pid, {signal})
                except OSError:
                    pass
        return 0
    """
    assert_fails_cleanly(run(sandbox, solution, TESTS))
    assert_still_judges(sandbox, rounds=4)


# ---------------------------------------------------------------- files and IPC
def test_dev_is_read_only(sandbox):
    name = f"/dev/laimark-probe-{TOKEN}"
    v = probe(
        sandbox,
        f"""
        import os
        try:
            with open({name!r}, "w") as fh:
                fh.write("x")
        except OSError:
            pass
        try:
            os.mkdir({name + "-dir"!r})
        except OSError:
            pass
        left = [p for p in ({name!r}, {name + "-dir"!r}) if os.path.exists(p)]
        return "held" if not left else left
        """,
    )
    assert v.passed, v


@pytest.mark.parametrize("path", ["/tmp", "/dev/shm"])
def test_tmp_and_dev_shm_are_size_limited_tmpfs(sandbox, path):
    """Each is a tmpfs of its own, smaller than the kernel's default size (half of the RAM)."""
    with open("/proc/meminfo") as fh:
        total = next(int(line.split()[1]) << 10 for line in fh if line.startswith("MemTotal:"))
    v = probe(
        sandbox,
        f"""
        import os
        fstype = None
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                fields = line.split()
                if fields[4] == {path!r}:
                    fstype = fields[fields.index("-") + 1]
        st = os.statvfs({path!r})
        size = st.f_blocks * st.f_frsize
        return "held" if fstype == "tmpfs" and 0 < size < {total // 2} else (fstype, size)
        """,
    )
    assert v.passed, v


IPC = {
    "sysv-shm": ("libc.shmget(KEY, 4096, 0o1666)", "libc.shmget(KEY, 0, 0)"),
    "sysv-msg": ("libc.msgget(KEY, 0o1666)", "libc.msgget(KEY, 0)"),
    "sysv-sem": ("libc.semget(KEY, 1, 0o1666)", "libc.semget(KEY, 0, 0)"),
    "posix-mq": ("libc.mq_open(NAME, 0o102, 0o600, None)", "libc.mq_open(NAME, 0)"),
}


@pytest.mark.parametrize("kind", list(IPC))
def test_ipc_objects_do_not_survive_to_the_next_run(sandbox, kind):
    create, lookup = IPC[kind]
    key, name = int(TOKEN[:7], 16) + len(kind), f"/laimark-{TOKEN}-{kind}".encode()
    prelude = f"""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    KEY = {key}
    NAME = {name!r}
    """
    first = probe(sandbox, f"{create}\nreturn 'held'\n", prelude=prelude)
    assert first.passed, first
    for _ in range(4):
        v = probe(sandbox, f"return 'held' if {lookup} == -1 else 'survived'\n", prelude=prelude)
        assert v.passed, v


def test_a_deep_directory_tree_in_tmp_does_not_break_the_worker(sandbox):
    top = f"/tmp/deep-{TOKEN}"
    first = probe(
        sandbox,
        f"""
        import os
        try:
            os.mkdir({top!r})
            os.chdir({top!r})
            for _ in range(5000):
                os.mkdir("d")
                os.chdir("d")
        except OSError:
            pass
        return "held"
        """,
    )
    assert first.passed, first
    for _ in range(4):
        v = probe(sandbox, f"import os\nreturn 'held' if not os.path.exists({top!r}) else 'left'\n")
        assert v.passed, v
    assert_still_judges(sandbox, rounds=2)


# ---------------------------------------------------------------- the seccomp filter
SYSCALLS = """
import ctypes, os, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def syscall(nr, *args):
    return libc.syscall(
        ctypes.c_long(nr), *(ctypes.c_long(a) if isinstance(a, int) else a for a in args)
    )
"""

DENIED = {
    # Nested namespaces: a new user namespace gives back every capability inside it.
    "unshare-newuser": "r = syscall(272, 0x10000000)",
    "unshare-newnet": "r = syscall(272, 0x40000000)",
    "unshare-newuser-newnet": "r = syscall(272, 0x10000000 | 0x40000000)",
    "clone-newuser": (
        "r = syscall(56, 0x10000000 | 17, 0, 0, 0, 0)\n"
        "if r == 0:\n"
        "    os._exit(0)\n"
        "if r > 0:\n"
        "    os.waitpid(r, 0)"
    ),
    "setns": "r = syscall(308, os.open('/proc/self/ns/net', os.O_RDONLY), 0x40000000)",
    "mount": "os.mkdir('m')\nr = syscall(165, b'none', b'm', b'tmpfs', 0, None)",
    "io_uring_setup": "r = syscall(425, 4, ctypes.create_string_buffer(120))",
    "userfaultfd": "r = syscall(323, 0o2000000 | 1)",  # O_CLOEXEC | UFFD_USER_MODE_ONLY
    "keyctl": "r = syscall(250, 0, -3, 1)",  # KEYCTL_GET_KEYRING_ID, session keyring, create
    "add_key": "r = syscall(248, b'user', b'laimark-probe', b'x', 1, -2)",
    "request_key": (
        "syscall(248, b'user', b'laimark-probe', b'x', 1, -2)\n"
        "r = syscall(249, b'user', b'laimark-probe', None, 0)"
    ),
    "bpf": (  # BPF_MAP_CREATE of a one-entry array
        "attr = ctypes.create_string_buffer(struct.pack('IIII', 2, 4, 4, 1), 128)\n"
        "r = syscall(321, 0, attr, 128)"
    ),
    "perf_event_open": (  # a software cpu-clock counter on this process, user space only
        "attr = ctypes.create_string_buffer(128)\n"
        "struct.pack_into('IIQ', attr, 0, 1, 64, 0)\n"
        "struct.pack_into('Q', attr, 40, 1 | 1 << 5 | 1 << 6)\n"
        "r = syscall(298, attr, 0, -1, -1, 0)"
    ),
    "ptrace": (  # PTRACE_TRACEME from a child, which needs no other permission
        "rd, wr = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.write(wr, str(syscall(101, 0, 0, 0, 0)).encode())\n"
        "    os._exit(0)\n"
        "os.close(wr)\n"
        "r = int(os.read(rd, 32) or b'-1')\n"
        "os.waitpid(pid, 0)"
    ),
}


@pytest.mark.parametrize("name", list(DENIED))
def test_dangerous_syscalls_are_denied(sandbox, name):
    body = DENIED[name] + "\nreturn 'held' if r == -1 else r\n"
    v = probe(sandbox, body, prelude=SYSCALLS)
    assert v.passed, v
