"""GRPO rewards: each problem's task type judging each rollout, shaped the way TRL calls rewards.

A reward is a plain function `(completions, **columns) -> list[float | None]`: TRL passes the
completions of one generation batch plus every dataset column, repeated once per completion.
`judge_reward` rebuilds each row's `Problem` from its columns and hands the rows of each
`problem_type` to that task type (`laimark.tasks`), which judges them in the sandbox with the
rollout prompt's solve format (its stop strings and assembly mode): the exact judgement that
calibration and evaluation make. A new task type needs no change here. (The original code judged
training rollouts its own way and scored correct body-only answers 0.)

`GroupAgreement` wraps a reward and logs, per generation batch, the share of groups whose
rewards all agree: such a group has zero advantage and teaches the policy nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from laimark.core.records import Problem
from laimark.core.solve import SolveFormat
from laimark.tasks import task_type

log = logging.getLogger(__name__)

REWARD_MODES = ("binary", "fractional")


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
    rows = [
        Problem(prompt=p, tests=t, entry_point=e, problem_type=k)
        for p, t, e, k in zip(problem_prompt, tests, entry_point, types, strict=True)
    ]
    out: list[float | None] = [None] * len(completions)
    for kind in sorted(set(types)):
        idx = [i for i, k in enumerate(types) if k == kind]
        try:
            task = task_type(kind)
        except KeyError as e:
            log.warning("%s (%d rows): reward None", e.args[0], len(idx))
            continue
        pairs = [(rows[i], completion_text(completions[i])) for i in idx]
        for i, v in zip(idx, task.judge(sandbox, pairs, fmt), strict=True):
            out[i] = task.reward(v, fractional)
    return out


def make_reward(sandbox, fmt: SolveFormat | None = None, mode: str = "binary") -> Callable:
    """`judge_reward` bound to a sandbox, the rollouts' solve format and a reward mode.

    Args:
        sandbox: an open Sandbox, kept for the whole run (workers stay warm).
        fmt: the solve format of the rollout prompts (default: the shared chat format).
        mode: "binary" (1.0 if every test passes) or "fractional" (share of tests passed).
    """
    if mode not in REWARD_MODES:
        raise ValueError(f"reward mode must be one of {REWARD_MODES}, got {mode!r}")

    def reward(completions, **columns):
        return judge_reward(
            completions, sandbox=sandbox, fmt=fmt, fractional=mode == "fractional", **columns
        )

    reward.__name__ = f"{mode}_reward"
    return reward


def zero_signal_fraction(rewards: Sequence[float | None], group_size: int) -> float:
    """Share of groups (`group_size` consecutive rewards) whose rewards are all equal.

    >>> zero_signal_fraction([1, 1, 0, 1, 0, 0], 2)
    0.6666666666666666
    """
    groups = [rewards[k : k + group_size] for k in range(0, len(rewards), group_size)]
    if not groups:
        return 0.0
    return sum(len(set(g)) <= 1 for g in groups) / len(groups)


class GroupAgreement:
    """Wrap a reward: after each call, record and log the share of groups with no signal.

    TRL puts the `num_generations` completions of one prompt next to each other, so groups are
    consecutive slices. With several processes each sees its own slice of the batch; the value
    is then per process (TRL's own `frac_reward_zero_std` is the global one).

    Args:
        fn: the reward to wrap.
        group_size: GRPO's `num_generations`.
    """

    def __init__(self, fn: Callable, group_size: int):
        self.fn, self.group_size = fn, group_size
        self.__name__ = getattr(fn, "__name__", "reward")
        self.history: list[dict] = []

    def __call__(self, completions, **columns) -> list[float | None]:
        rewards = self.fn(completions, **columns)
        frac = zero_signal_fraction(rewards, self.group_size)
        known = [r for r in rewards if r is not None]
        state = columns.get("trainer_state")
        entry = {
            "step": getattr(state, "global_step", len(self.history)) + 1,
            "zero_signal_frac": frac,
            "reward_mean": sum(known) / len(known) if known else None,
            "groups": -(-len(rewards) // self.group_size),
        }
        self.history.append(entry)
        if callable(columns.get("log_metric")):
            columns["log_metric"]("zero_signal_frac", frac)
        log.info(
            "step %d: reward mean %s, %.0f%% of %d groups without signal",
            entry["step"],
            "n/a" if entry["reward_mean"] is None else f"{entry['reward_mean']:.3f}",
            100 * frac,
            entry["groups"],
        )
        return rewards
