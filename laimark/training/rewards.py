"""GRPO rewards: each problem's task type judging each rollout, shaped the way TRL calls rewards.

A reward is a plain function `(completions, **columns) -> list[float | None]`: TRL passes the
completions of one generation batch plus every dataset column, repeated once per completion.
`judge_reward` rebuilds each row's `Problem` from its columns and hands the rows of each
`problem_type` to that task type (`laimark.tasks`), which judges them in the sandbox with the
rollout prompt's solve format (its stop strings and assembly mode): the exact judgement that
calibration and evaluation make. A new task type needs no change here. (The original code judged
training rollouts its own way and scored correct body-only answers 0.)

`Reward` shapes the verdicts into the reward of a mode (binary, fractional, partial, or the
random control); `laimark.training.signal` tracks the learning signal they give.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence

from laimark.core.records import Problem
from laimark.core.seeds import item_seed
from laimark.core.solve import SolveFormat
from laimark.tasks import judge_by_type, task_type

log = logging.getLogger(__name__)

REWARD_MODES = ("binary", "fractional", "partial", "random")


def completion_text(completion) -> str:
    """The text of one completion: TRL gives a string, or a message list for chat prompts."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if m.get("role") == "assistant")


def judge_reward(
    completions: Sequence,
    *,
    problem_prompt: Sequence[str],
    tests: Sequence[str],
    entry_point: Sequence[str],
    problem_type: Sequence[str] | None = None,
    item: Sequence[str] | None = None,
    sandbox,
    fmt: SolveFormat | None = None,
    fractional: bool = False,
    **_: object,
) -> list[float | None]:
    """Judge each completion as its row's task type does: 1.0/0.0, or the share of tests passed.

    Args:
        completions: one per row (strings, or chat message lists).
        problem_prompt, tests, entry_point, problem_type: the problem's columns, one per row
            (`problem_type` absent: all "code").
        item: per row, the JSON of a deduction or abduction item's own fields ("" otherwise).
        sandbox: an open `laimark.execution.sandbox.Sandbox`.
        fmt: the solve format the rollouts were asked in (default: the shared chat format).
        fractional: reward the share of tests passed instead of all-or-nothing.

    Returns:
        One reward per row; None for a row whose type has no task type registered.

    Example (needs bubblewrap or `Sandbox("process")`):

    >>> from laimark.execution.sandbox import Sandbox
    >>> with Sandbox(workers=1) as sb:
    ...     judge_reward(["    return a + b\\n", "    return a - b\\n"],
    ...                  problem_prompt=["def add(a, b):\\n"] * 2,
    ...                  tests=["assert add(1, 2) == 3\\nassert add(0, 0) == 0"] * 2,
    ...                  entry_point=["add"] * 2, sandbox=sb, fmt=SolveFormat.make(raw=True),
    ...                  fractional=True)
    [1.0, 0.5]
    """
    fmt = fmt or SolveFormat()
    types = problem_type or ["code"] * len(completions)
    items = item or [""] * len(completions)
    rows = [
        Problem(prompt=p, tests=t, entry_point=e, problem_type=k, extra=json.loads(i) if i else {})
        for p, t, e, k, i in zip(problem_prompt, tests, entry_point, types, items, strict=True)
    ]
    pairs = [(row, completion_text(c)) for row, c in zip(rows, completions, strict=True)]
    return [
        None if v is None else task_type(row.problem_type).reward(v, fractional)
        for (row, _), v in zip(pairs, judge_by_type(sandbox, pairs, fmt), strict=True)
    ]


class Reward:
    """The GRPO reward: the sandbox's verdicts, shaped by a mode. Called as TRL calls rewards.

    Modes (`REWARD_MODES`):
      * binary: 1.0 if every test passes (the paper);
      * fractional: the share of tests passed;
      * partial: partial credit with a bonus for passing all, (share + bonus * all) / (1 + bonus),
        so an answer passing everything gets 1.0 and one passing half the tests 0.25 (bonus 1);
      * random: the spurious-reward control. Every answer is still judged (the true pass rate is
        logged), but the reward is 1.0 with probability p, independent of the answer: p is the
        problem's calibrated `pass_rate` when the curriculum has one, else the batch's true pass
        rate, so the random reward has the real one's rate. Draws are seeded by (seed, problem,
        step, row), so a rerun gives the same rewards.

    `last_passed` holds, after each call, whether each answer passed all its tests (what
    `signal.SignalTracker` counts as a pass, whatever the mode).
    """

    def __init__(
        self,
        sandbox,
        fmt: SolveFormat | None = None,
        mode: str = "binary",
        *,
        partial_bonus: float = 1.0,
        seed: int = 0,
    ):
        if mode not in REWARD_MODES:
            raise ValueError(f"reward mode must be one of {REWARD_MODES}, got {mode!r}")
        self.sandbox, self.fmt, self.mode = sandbox, fmt, mode
        self.partial_bonus, self.seed = partial_bonus, seed
        self.__name__ = f"{mode}_reward"
        self.last_passed: list[bool] = []

    def __call__(self, completions, **columns) -> list[float | None]:
        if self.mode == "fractional" or self.mode == "partial":
            share = judge_reward(
                completions, sandbox=self.sandbox, fmt=self.fmt, fractional=True, **columns
            )
            passed = [s == 1.0 for s in share]
        else:
            binary = judge_reward(completions, sandbox=self.sandbox, fmt=self.fmt, **columns)
            passed = [b == 1.0 for b in binary]
        self.last_passed = passed
        if self.mode == "binary":
            return binary
        if self.mode == "fractional":
            return share
        if self.mode == "partial":
            b = self.partial_bonus
            return [None if s is None else (s + b * ok) / (1 + b) for s, ok in zip(share, passed)]
        return self._random(binary, columns)

    def _random(self, real: list[float | None], columns: dict) -> list[float | None]:
        known = [r for r in real if r is not None]
        batch_rate = sum(known) / len(known) if known else 0.0
        rates = columns.get("pass_rate") or [None] * len(real)
        keys = columns.get("key") or columns.get("entry_point") or [""] * len(real)
        state = columns.get("trainer_state")
        step = getattr(state, "global_step", 0)
        out: list[float | None] = []
        for i, (r, rate, key) in enumerate(zip(real, rates, keys, strict=True)):
            if r is None:
                out.append(None)
                continue
            p = batch_rate if rate is None or rate < 0 else rate
            draw = random.Random(item_seed(self.seed, f"{key}:{step}:{i}")).random()
            out.append(float(draw < p))
        return out


def make_reward(sandbox, fmt: SolveFormat | None = None, mode: str = "binary", **kwargs) -> Reward:
    """A `Reward` bound to a sandbox (kept open for the whole run), the rollouts' solve format
    and a mode; `kwargs`: `partial_bonus`, `seed`."""
    return Reward(sandbox, fmt, mode, **kwargs)


def zero_signal_fraction(rewards: Sequence[float | None], group_size: int) -> float:
    """Share of groups (`group_size` consecutive rewards) whose rewards are all equal.

    >>> zero_signal_fraction([1, 1, 0, 1, 0, 0], 2)
    0.6666666666666666
    """
    groups = [rewards[k : k + group_size] for k in range(0, len(rewards), group_size)]
    if not groups:
        return 0.0
    return sum(len(set(g)) <= 1 for g in groups) / len(groups)
