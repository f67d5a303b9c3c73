"""The code task type: write the function `entry_point` described by `prompt` so that `tests` pass.

The request is the solve format's (`laimark.core.solve`), the answer is assembled into a program by
the format's mode and judged by the one harness, and the reward is 1.0 when every test passes (or,
fractional, the share of tests passed).
"""

from __future__ import annotations

from collections.abc import Sequence

from laimark import tasks
from laimark.core.records import Problem
from laimark.core.solve import SolveFormat
from laimark.execution import harness
from laimark.execution.harness import Verdict

# Names older files (the original LAIMARK's among them) use for a plain "write this function" problem.
ALIASES = ("selfgen", "induction", "mbpp", "humaneval")


class CodeTask:
    name = "code"

    def prompt(self, problem: Problem, fmt: SolveFormat) -> list[dict] | str:
        return fmt.prompt(problem.prompt)

    def judge(
        self, sandbox, pairs: Sequence[tuple[Problem, str]], fmt: SolveFormat, **kwargs
    ) -> list[Verdict]:
        """Judge answers as `fmt` asked for them: cut at its stop strings, assembled in its mode."""
        cut = [(p, fmt.cut(answer)) for p, answer in pairs]
        return harness.judge_many(sandbox, cut, mode=fmt.assembly, **kwargs)

    def reward(self, verdict: Verdict, fractional: bool = False) -> float:
        return verdict.fraction if fractional else float(verdict.passed)


tasks.register(CodeTask(), *ALIASES)
