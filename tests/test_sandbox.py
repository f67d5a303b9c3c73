"""Hostile snippets against the sandbox at its default level: one property per test.

Each snippet is the *solution* of a one-test problem whose test only passes if the sandbox held,
or (for faking attempts) a solution that is wrong and must not pass. Verdicts come from running
the code for real in bubblewrap; nothing here is mocked.
"""

from __future__ import annotations

import os
import socket
import textwrap
import threading
from types import SimpleNamespace

import pytest

from laimark.execution.harness import judge
from laimark.execution.sandbox import Limits, Sandbox, bwrap_usable

pytestmark = pytest.mark.skipif(not bwrap_usable()[0], reason="bubblewrap not usable here")

SECRET = "laimark-test-secret-value"


@pytest.fixture(scope="module")
def sandbox():
    os.environ["LAIMARK_TEST_SECRET"] = SECRET  # the sandbox must not pass it on
    limits = Limits(timeout=2.0, cpu_seconds=2, memory_mb=512, fsize_mb=1, nproc=8, max_output=4096)
    with Sandbox(level="bwrap", workers=2, limits=limits) as sb:
        yield sb
    os.environ.pop("LAIMARK_TEST_SECRET", None)


def run(sandbox, solution: str, tests: str, entry_point: str = "f"):
    problem = SimpleNamespace(prompt="", tests=tests, entry_point=entry_point)
    return judge(sandbox, problem, textwrap.dedent(solution), mode="function")


def probe(sandbox, body: str):
    """Run `body` inside f() and return what f returned (via a test that reports it)."""
    solution = "def f():\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return run(sandbox, solution, "assert f() == 'held'")


def test_default_level_is_bwrap(sandbox):
    assert sandbox.describe()["level"] == "bwrap"


# ---------------------------------------------------------------- network
def test_no_network_to_the_outside(sandbox):
    v = probe(
        sandbox,
        """
        import socket
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=1)
            return "connected"
        except OSError:
            return "held"
    """,
    )
    assert v.passed, v


def test_no_network_to_the_host_loopback(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    try:
        v = probe(
            sandbox,
            f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=1)
                return "connected"
            except OSError:
                return "held"
        """,
        )
    finally:
        server.close()
    assert v.passed, v


# ---------------------------------------------------------------- filesystem and environment
@pytest.mark.parametrize("path", ["/usr/laimark-probe", "/etc/laimark-probe", "/laimark-probe"])
def test_host_filesystem_is_read_only(sandbox, path):
    v = probe(
        sandbox,
        f"""
        try:
            open({path!r}, "w").write("x")
            return "wrote"
        except OSError:
            return "held"
    """,
    )
    assert v.passed, v
    assert not os.path.exists(path)


def test_project_files_are_not_visible(sandbox):
    here = os.path.abspath(__file__)
    v = probe(
        sandbox,
        f"""
        import os
        return "held" if not os.path.exists({here!r}) else "visible"
    """,
    )
    assert v.passed, v


def test_home_is_not_visible(sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    home = os.path.expanduser("~/.bash_history")
    v = probe(
        sandbox,
        f"""
        import os
        seen = [p for p in ({str(secret)!r}, {home!r}) if os.path.exists(p)]
        return "held" if not seen else seen
    """,
    )
    assert v.passed, v


def test_environment_is_not_passed_on(sandbox):
    v = probe(
        sandbox,
        """
        import os
        leaked = [k for k, v in os.environ.items() if "laimark-test-secret" in v]
        return "held" if not leaked and "LAIMARK_TEST_SECRET" not in os.environ else leaked
    """,
    )
    assert v.passed, v


def test_scratch_directory_is_private_and_gone_afterwards(sandbox):
    first = probe(
        sandbox,
        """
        import os
        open("left-behind.txt", "w").write("x")
        open("/tmp/left-behind.txt", "w").write("x")
        open("/dev/shm/left-behind.txt", "w").write("x")
        return "held"
    """,
    )
    assert first.passed, first
    for _ in range(3):  # whichever worker runs next, nothing is left
        v = probe(
            sandbox,
            """
            import os
            found = []
            for root in ("/tmp", "/dev/shm"):
                for dirpath, _, files in os.walk(root):
                    found += [f for f in files if f == "left-behind.txt"]
            return "held" if not found else found
        """,
        )
        assert v.passed, v


# ---------------------------------------------------------------- limits
def test_cpu_bound_loop_times_out(sandbox):
    v = run(sandbox, "def f():\n    while True:\n        pass\n", "assert f() == 1")
    assert not v.passed and v.reason == "timeout", v


def test_sleeping_past_the_wall_clock_times_out(sandbox):
    v = run(sandbox, "import time\ndef f():\n    time.sleep(60)\n", "assert f() is None")
    assert not v.passed and v.reason == "timeout", v
    assert v.duration < 4


def test_memory_is_limited(sandbox):
    v = run(sandbox, "def f():\n    return len(bytearray(2 << 30))\n", "assert f() == 2 << 30")
    assert not v.passed and v.reason == "memory", v


def test_processes_are_limited(sandbox):
    v = probe(
        sandbox,
        """
        import os, time
        pids = []
        try:
            for _ in range(100):
                pid = os.fork()
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                pids.append(pid)
        except OSError:
            return "held"
        return len(pids)
    """,
    )
    assert v.passed, v


def test_threads_are_limited(sandbox):
    v = probe(
        sandbox,
        """
        import threading, time
        try:
            for _ in range(100):
                threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        except RuntimeError:
            return "held"
        return "100 threads"
    """,
    )
    assert v.passed, v


def test_file_size_is_limited(sandbox):
    v = probe(
        sandbox,
        """
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            with open("big", "wb") as fh:
                fh.write(b"x" * (8 << 20))
            return "wrote 8 MiB"
        except OSError:
            return "held"
    """,
    )
    assert v.passed, v


def test_output_flood_is_capped(sandbox):
    v = run(
        sandbox,
        "import sys\nsys.stdout.write('x' * (50 << 20))\ndef f():\n    return 1\n",
        "assert f() == 1",
    )
    assert v.passed, v
    assert v.output_truncated and len(v.output) <= 4096


def test_nothing_started_outlives_its_run(sandbox):
    v = run(
        sandbox,
        """
        import os, time
        def f():
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(60)
                os._exit(0)
            time.sleep(60)
    """,
        "assert f() is None",
    )
    assert v.reason == "timeout", v
    for _ in range(3):
        # bwrap's init, the worker, this run's judge and candidate: nothing else.
        after = probe(
            sandbox,
            """
            import os
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
            return "held" if len(pids) <= 4 else pids
        """,
        )
        assert after.passed, after


# ---------------------------------------------------------------- the verifier survives
# The fork-server is pid 1 of the namespace, and the candidate's parent: as init it receives no
# signal from inside. Everything else that judges (the judge, the zygote) can be killed, which
# fails the run that did it and nothing else.
KILL_ALL = "[os.kill(int(p), signal.SIGKILL) for p in os.listdir('/proc') if p.isdigit()]"


@pytest.mark.parametrize(
    "target, survives",
    [("os.getppid()", True), ("1", True), ("-1", False), ("each", False)],
)
def test_killing_the_verifier_fails_the_run_only(sandbox, target, survives):
    kill = KILL_ALL if target == "each" else f"os.kill({target}, signal.SIGKILL)"
    v = run(sandbox, f"import os, signal\ndef f():\n    {kill}\n    return 1\n", "assert f() == 1")
    assert v.passed is survives, v
    for _ in range(3):  # whichever worker runs next
        assert run(sandbox, "def f():\n    return 1\n", "assert f() == 1").passed
        assert not run(sandbox, "def f():\n    return None\n", "assert f() == 1").passed


STOP_OTHERS = (
    "[os.kill(int(p), signal.SIGSTOP) for p in os.listdir('/proc')"
    " if p.isdigit() and int(p) != os.getpid()]"
)


def test_stopping_the_verifier_does_not_stall_it(sandbox):
    v = run(
        sandbox,
        f"import os, signal\ndef f():\n    {STOP_OTHERS}\n    return 1\n",
        "assert f() == 1",
    )
    assert not v.passed, v  # the judge is stopped
    for _ in range(3):  # the stopped zygote was continued: nothing stalls
        assert run(sandbox, "def f():\n    return 1\n", "assert f() == 1").passed


def test_runs_do_not_share_state(sandbox):
    first = run(
        sandbox, "import builtins\nbuiltins.LEAK = 1\ndef f():\n    return 1\n", "assert f() == 1"
    )
    assert first.passed
    for _ in range(3):
        v = run(
            sandbox,
            "import builtins\ndef f():\n    return hasattr(builtins, 'LEAK')\n",
            "assert f() is False",
        )
        assert v.passed, v


# ---------------------------------------------------------------- a pass cannot be faked
WRONG = "def f(x):\n    return 0\n"
TESTS = "assert f(1) == 3\nassert f(2) == 6"


@pytest.mark.parametrize(
    "trick",
    [
        "import sys\nsys.exit(0)\n",
        "import os\nos._exit(0)\n",
        "import sys\ndef f(x):\n    sys.exit(0)\n",
        "import os\ndef f(x):\n    os._exit(0)\n",
        'print(\'{"i": 0, "ok": true}\\n{"i": 1, "ok": true}\\n{"done": true}\')\n' + WRONG,
        "class Yes:\n    def __eq__(self, other):\n        return True\n"
        "def f(x):\n    return Yes()\n",
        "class Yes(int):\n    def __eq__(self, other):\n        return True\n"
        "def f(x):\n    return Yes(0)\n",
        "import builtins\nbuiltins.AssertionError = type('A', (Exception,), {})\n" + WRONG,
        "import os\nfor fd in range(3, 64):\n    try:\n"
        '        os.write(fd, b\'{"i": 0, "ok": true}\\n{"i": 1, "ok": true}\\n{"done": true}\\n\')\n'
        "    except OSError:\n        pass\n" + WRONG,
    ],
    ids=[
        "exit-at-load",
        "os_exit-at-load",
        "exit-in-call",
        "os_exit-in-call",
        "print-verdict",
        "eq-always-true",
        "int-subclass-eq",
        "patch-builtins",
        "write-every-fd",
    ],
)
def test_pass_cannot_be_faked(sandbox, trick):
    v = run(sandbox, trick, TESTS)
    assert not v.passed, v
    assert v.n_passed == 0, v


def test_patched_builtins_do_not_reach_the_tests(sandbox):
    trick = "import builtins\nbuiltins.len = lambda x: 3\ndef f(x):\n    return [0]\n"
    v = run(sandbox, trick, "assert len(f(1)) == 3")
    assert not v.passed, v


def test_patched_modules_do_not_reach_the_tests(sandbox):
    trick = "import math\nmath.isclose = lambda *a, **k: True\ndef f(x):\n    return 0.0\n"
    v = run(sandbox, trick, "import math\nassert math.isclose(f(1), 3.0)")
    assert not v.passed, v


# ---------------------------------------------------------------- the fallback level
def test_process_level_warns_and_still_judges(caplog):
    with Sandbox(level="process", workers=1, limits=Limits(timeout=2.0)) as sb:
        assert sb.describe()["level"] == "process"
        assert run(sb, "def f():\n    return 1\n", "assert f() == 1").passed
        assert not run(sb, "def f():\n    return 2\n", "assert f() == 1").passed
        assert (
            run(sb, "def f():\n    while True:\n        pass\n", "assert f()").reason == "timeout"
        )
    assert any("WITHOUT namespace isolation" in r.message for r in caplog.records)


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="unknown sandbox level"):
        Sandbox(level="docker")


def test_post_run_wipe_is_refused_outside_the_sandbox():
    """The server wipes /tmp after each run only inside its own mounts; on a host it must not."""
    from laimark.execution import _worker

    assert _worker.sandboxed_mounts() is False
