"""Task types: how a problem is put to the model, how an answer is judged, and its reward.

A task type is an object with the `TaskType` shape, registered here under its name and the older
names files use for it. Calibration, the GRPO reward and evaluation look a problem's type up with
`task_type(problem.problem_type)` and call the same three methods, so a new type (deduction,
abduction, ...) is one module plus one `register` call and no stage changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from laimark.core.records import Problem
from laimark.core.solve import SolveFormat


class TaskType(Protocol):
    name: str

    def prompt(self, problem: Problem, fmt: SolveFormat) -> list[dict] | str:
        """The request that asks the policy to answer `problem`."""
        ...

    def judge(self, sandbox, pairs: Sequence[tuple[Problem, str]], fmt: SolveFormat) -> list:
        """One `Verdict` per (problem, answer), judged in `sandbox`."""
        ...

    def reward(self, verdict, fractional: bool = False) -> float:
        """The GRPO reward of one verdict."""
        ...


_REGISTRY: dict[str, TaskType] = {}


def register(task: TaskType, *aliases: str) -> None:
    for name in (task.name, *aliases):
        _REGISTRY[name] = task


def known_types() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def task_type(name: str) -> TaskType:
    """The task type registered as `name`.

    Raises:
        KeyError: no such type; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown problem_type {name!r} (known: {', '.join(_REGISTRY)})") from None


from laimark.tasks import code  # noqa: E402, F401  (registers itself; needs `register` above)
