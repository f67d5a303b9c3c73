"""Task types: how a problem is put to the model, how an answer is judged, and its reward.

A task type is an object with the `TaskType` shape, registered here under its name and the older
names files use for it. Calibration, the GRPO reward and evaluation look a problem's type up with
`task_type(problem.problem_type)` and call the same three methods, so a new type (deduction,
abduction, ...) is one module plus one `register` call and no stage changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from laimark.core.records import ORIGINAL_ITEM_FIELDS, Problem, RecordError
from laimark.core.solve import SolveFormat

log = logging.getLogger(__name__)


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


def unjudged_type(problem: Problem) -> str | None:
    """Why no stage can judge `problem` (its type has no task type), or None if one can."""
    kind = problem.problem_type
    if kind in _REGISTRY:
        return None
    if kind in ORIGINAL_ITEM_FIELDS:
        return (
            f"field 'problem_type' is {kind!r}: the original LAIMARK's {kind} records load, but "
            "no task type judges them yet, so they cannot be calibrated or trained on; keep "
            "them in a file of their own"
        )
    return (
        f"field 'problem_type' is {kind!r}, which has no task type (known: {', '.join(_REGISTRY)})"
    )


def judge_by_type(sandbox, pairs: Sequence[tuple[Problem, str]], fmt: SolveFormat) -> list:
    """One verdict per (problem, answer), each judged by its problem's task type, one batch per
    type; None for a problem whose type has no task type (logged once per type)."""
    out: list = [None] * len(pairs)
    for kind in sorted({p.problem_type for p, _ in pairs}):
        idx = [i for i, (p, _) in enumerate(pairs) if p.problem_type == kind]
        try:
            task = task_type(kind)
        except KeyError as e:
            log.warning("%s (%d rows): not judged", e.args[0], len(idx))
            continue
        for i, v in zip(idx, task.judge(sandbox, [pairs[i] for i in idx], fmt), strict=True):
            out[i] = v
    return out


def require_judged(path, records: Sequence[tuple[int, Problem]]) -> None:
    """Stop at the first record whose type no task type judges (before any model is loaded).

    Raises:
        RecordError: naming the file, line and field.
    """
    for line, problem in records:
        if why := unjudged_type(problem):
            raise RecordError(path, line, "problem_type", why)


# ---------------------------------------------------------------- the mix of types
# The LAIMARK paper (section 5.2): a curriculum of 84% abduction-style problems dropped Qwen3-8B
# to 61.0% on HumanEval, below its base model. A mix of types in which one exceeds this share is
# reported with a warning.
MIX_THRESHOLD = 0.6


def type_mix(problems) -> dict[str, float]:
    """Share of each task type (by its registered name) among `problems`, largest first."""
    names = []
    for p in problems:
        kind = p.problem_type
        names.append(_REGISTRY[kind].name if kind in _REGISTRY else kind)
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    total = len(names) or 1
    return {k: round(v / total, 4) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}


def mix_warning(mix: dict[str, float], threshold: float = MIX_THRESHOLD) -> str | None:
    """The warning for a lopsided mix: one type above `threshold` where several types are mixed,
    or a reasoning type (not code) above it on its own; None otherwise. A curriculum of code
    problems alone is the ordinary case and is not warned about."""
    if not mix:
        return None
    top, share = next(iter(mix.items()))
    if share <= threshold or (top == "code" and len(mix) == 1):
        return None
    return (
        f"{share:.0%} of the curriculum is {top} (above {threshold:.0%}): in the LAIMARK paper "
        "(section 5.2) a curriculum of 84% abduction-style problems dropped Qwen3-8B to 61.0% on "
        "HumanEval, below its base model"
    )


# The task types register themselves, and need `register` above.
from laimark.tasks import code, reasoning  # noqa: E402, F401
