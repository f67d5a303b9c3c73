"""GRPO rewards: the shared judging harness, shaped the way TRL's GRPOTrainer calls rewards.

A reward is a plain function `(completions, **columns) -> list[float | None]`: TRL passes the
completions of one generation batch plus every dataset column, repeated once per completion.
`judge_reward` dispatches on the `problem_type` column, so a new task type (deduction, abduction,
...) plugs in by adding one entry to `REWARDS`. Code problems are judged by `laimark.execution.harness`,
with the assembly mode of the rollout prompt (`prompts.solve_mode`): the exact judgement that
calibration and evaluation make. (The original code judged training rollouts its own way and
scored correct body-only answers 0.)

`GroupAgreement` wraps a reward and logs, per generation batch, the share of groups whose
rewards all agree: such a group has zero advantage and teaches the policy nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from types import SimpleNamespace

log = logging.getLogger(__name__)

REWARD_MODES = ("binary", "fractional")
# Names older files use for a plain "write this function" problem.
CODE_ALIASES = ("code", "selfgen", "induction", "mbpp", "humaneval")


def completion_text(completion) -> str:
    """The text of one completion: TRL gives a string, or a message list for chat prompts."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if m.get("role") == "assistant")


def code_reward(
    completions: Sequence,
    *,
    problem_prompt: Sequence[str],
    tests: Sequence[str],
    entry_point: Sequence[str],
    sandbox,
    mode: str = "auto",
    fractional: bool = False,
    **_: object,
) -> list[float]:
    """Judge code completions in the sandbox: 1.0/0.0, or the share of asserts passed.

    Args:
        completions: one per row (strings, or chat message lists).
        problem_prompt, tests, entry_point: the problem's columns, one per row.
        sandbox: an open `laimark.execution.sandbox.Sandbox`.
        mode: harness assembly mode; use `prompts.solve_mode(chat)` of the rollout prompt.
        fractional: reward `Verdict.fraction` instead of `Verdict.passed`.

    Example (needs bubblewrap or `Sandbox("process")`):

    >>> from laimark.execution.sandbox import Sandbox
    >>> with Sandbox(workers=1) as sb:
    ...     code_reward(["    return a + b\\n", "    return a - b\\n"],
    ...                 problem_prompt=["def add(a, b):\\n"] * 2,
    ...                 tests=["assert add(1, 2) == 3\\nassert add(0, 0) == 0"] * 2,
    ...                 entry_point=["add"] * 2, sandbox=sb, mode="body", fractional=True)
    [1.0, 0.5]
    """
    from laimark.execution.harness import judge_many

    problems = [
        SimpleNamespace(prompt=p, tests=t, entry_point=e)
        for p, t, e in zip(problem_prompt, tests, entry_point, strict=True)
    ]
    texts = [completion_text(c) for c in completions]
    verdicts = judge_many(sandbox, zip(problems, texts, strict=True), mode=mode)
    return [v.fraction if fractional else float(v.passed) for v in verdicts]


REWARDS: dict[str, Callable[..., list[float | None]]] = {name: code_reward for name in CODE_ALIASES}


def judge_reward(
    completions: Sequence, problem_type: Sequence[str], **columns
) -> list[float | None]:
    """Route each row to the reward of its `problem_type`; None for a type with no reward.

    `columns` holds every dataset column (lists, one value per row) and the fixed arguments
    that `make_reward` binds (sandbox, mode, fractional); each type's reward takes what it needs.
    """
    out: list[float | None] = [None] * len(completions)
    for ptype in sorted(set(problem_type)):
        rows = [i for i, t in enumerate(problem_type) if t == ptype]
        fn = REWARDS.get(ptype)
        if fn is None:
            log.warning("no reward for problem_type %r (%d rows): reward None", ptype, len(rows))
            continue
        sub = {
            k: [v[i] for i in rows] if _is_column(v, completions) else v for k, v in columns.items()
        }
        for i, r in zip(rows, fn([completions[i] for i in rows], **sub), strict=True):
            out[i] = r
    return out


def _is_column(value, completions) -> bool:
    return isinstance(value, list) and len(value) == len(completions)


def make_reward(sandbox, *, chat: bool = True, mode: str = "binary") -> Callable:
    """`judge_reward` bound to a sandbox, the rollout prompt's assembly mode and a reward mode.

    Args:
        sandbox: an open Sandbox, kept for the whole run (workers stay warm).
        chat: whether rollouts use the chat form of `prompts.solve_prompt`.
        mode: "binary" (1.0 if every test passes) or "fractional" (share of tests passed).
    """
    from laimark.curriculum.prompts import solve_mode

    if mode not in REWARD_MODES:
        raise ValueError(f"reward mode must be one of {REWARD_MODES}, got {mode!r}")

    def reward(completions, problem_type, **columns):
        return judge_reward(
            completions,
            problem_type,
            sandbox=sandbox,
            mode=solve_mode(chat),
            fractional=mode == "fractional",
            **columns,
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
