"""Decontamination against HumanEval that catches paraphrases, with the evidence for each problem.

A HumanEval task retold with a new function name and new nouns keeps what a model finds hard to
change: the numbers and strings of its examples, the shape of its calls, its signature and, above
all, its behaviour. So besides the entry-point name and the docstring's word 5-grams (the original
LAIMARK's check, which such a paraphrase passes), each problem is compared with every task by:

* **calls**: the argument lists of the calls in its docstring examples and tests
  (`([1.0, 2.0, 3.0], 0.5)`, spaces and quotes normalised), shared with the task's prompt and tests;
* **literals**: the distinctive numbers and strings (not 0, 1, 2, "a" ...) shared;
* **signature**: the same number of parameters and the same annotations;
* **execution** (with a sandbox, for the nearest tasks of the same arity): the problem's reference
  passes the task's own tests, or the task's canonical solution passes the problem's tests.

`nearest(problem)` ranks the tasks by the text measures; `decontaminate` adds execution and says
whether the problem is flagged and why. `report` is the JSON written beside every curriculum file.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from laimark.evaluation.humaneval import load_humaneval
from laimark.execution.harness import judge_many

DOCSTRING_CONTAINMENT = 0.5  # share of the docstring's word 5-grams found in a task's
CALL_SHARE = 0.3  # share of the problem's distinctive calls found among a task's ...
MIN_SHARED_CALLS = 2  # ... and at least this many of them
LITERAL_SHARE = 0.5  # share of the problem's distinctive literals found in a task's ...
MIN_SHARED_LITERALS = 4  # ... and at least this many, with the same signature
MIN_CALL_CHARS = 8  # shorter argument lists ([1,2,3], 'aa', '()') are anyone's
EXECUTION_CANDIDATES = 3  # nearest tasks of the same arity whose tests the reference is run on
TRIVIAL_NUMBERS = frozenset(str(n) for n in range(-2, 11)) | {"0.0", "1.0", "-1.0", "0.5", "2.0"}

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_STRING = re.compile(r"'([^'\n\\]{2,60})'|\"([^\"\n\\]{2,60})\"")
_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_WORD = re.compile(r"[a-z0-9]+")


# ---------------------------------------------------------------- text similarity
def docstring(prompt: str) -> str:
    """The first docstring in a prompt, or the prompt itself if it has none."""
    match = re.search(r'("""|\'\'\')(.*?)(\1|\Z)', prompt, re.S)
    return match.group(2) if match else prompt


def word_ngrams(text: str, n: int = 3) -> frozenset:
    words = _WORD.findall(text.lower())
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def containment(a: frozenset, b: frozenset) -> float:
    """Share of the smaller set found in the other: catches a paraphrase wrapped in extra text."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


# ---------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """What one problem or task is compared by."""

    name: str
    grams: frozenset
    calls: frozenset
    literals: frozenset
    arity: int | None
    signature: tuple | None


def _balanced(text: str, start: int) -> str | None:
    """The text between the parenthesis at `start - 1` and its match, or None."""
    depth = 1
    for i in range(start, min(len(text), start + 400)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return None


def _norm(args: str) -> str:
    return re.sub(r"\s+", "", args).replace('"', "'")


def call_args(text: str, names: set[str]) -> frozenset:
    """Normalised argument lists of the calls of `names` in `text`, leaving out short ones."""
    found = set()
    for m in _CALL.finditer(text):
        if m.group(1) not in names:
            continue
        args = _balanced(text, m.end())
        if args is not None and len(_norm(args)) >= MIN_CALL_CHARS:
            found.add(_norm(args))
    return frozenset(found)


def literals(text: str) -> frozenset:
    """The distinctive numbers and strings in `text`."""
    numbers = {n for n in _NUMBER.findall(text) if n not in TRIVIAL_NUMBERS}
    strings = {a or b for a, b in _STRING.findall(text) if len((a or b).strip()) >= 3}
    return frozenset(numbers | {f"'{s}'" for s in strings})


def _signature(prompt: str, entry_point: str) -> tuple[int | None, tuple | None]:
    """(number of parameters, (annotations..., return annotation)) of the entry point."""
    for suffix in ("", "\n    pass\n"):
        try:
            tree = ast.parse(prompt + suffix)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == entry_point:
                params = node.args.posonlyargs + node.args.args
                notes = tuple(ast.unparse(a.annotation) if a.annotation else "" for a in params)
                ret = ast.unparse(node.returns) if node.returns else ""
                return len(params), notes + (ret,)
    return None, None


def profile(prompt: str, tests: str, entry_point: str) -> Profile:
    """A problem's profile. HumanEval's tests call `candidate`, ours the entry point."""
    names = {entry_point, "candidate"}
    text = docstring(prompt) + "\n" + tests
    arity, signature = _signature(prompt, entry_point)
    return Profile(
        entry_point,
        word_ngrams(docstring(prompt), 5),
        call_args(text, names),
        literals(text),
        arity,
        signature,
    )


@lru_cache(maxsize=1)
def humaneval_profiles() -> tuple[tuple[object, Profile], ...]:
    return tuple((p, profile(p.prompt, p.tests, p.entry_point)) for p in load_humaneval())


@dataclass
class Evidence:
    """How close a problem is to its nearest HumanEval task, and whether it is flagged."""

    nearest: str = ""
    measures: dict = field(default_factory=dict)
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)
    candidates: list = field(default_factory=list)  # nearest same-arity tasks, for execution

    def to_dict(self) -> dict:
        return {
            "nearest": self.nearest,
            "flagged": self.flagged,
            "reasons": self.reasons,
            "measures": self.measures,
        }


def _measures(mine: Profile, task: Profile) -> dict:
    shared_calls = mine.calls & task.calls
    shared_literals = mine.literals & task.literals
    return {
        "same_name": mine.name == task.name,
        "docstring": round(containment(mine.grams, task.grams), 3),
        "calls": round(len(shared_calls) / len(mine.calls), 3) if mine.calls else 0.0,
        "shared_calls": len(shared_calls),
        "literals": round(len(shared_literals) / len(mine.literals), 3) if mine.literals else 0.0,
        "shared_literals": len(shared_literals),
        "same_signature": mine.signature is not None and mine.signature == task.signature,
    }


def _score(m: dict) -> float:
    """An ordering of tasks by closeness (the report's "nearest"); flags use the rules below."""
    return (
        2.0 * m["same_name"]
        + m["docstring"]
        + m["calls"] * min(1.0, m["shared_calls"] / MIN_SHARED_CALLS)
        + 0.5 * m["literals"] * min(1.0, m["shared_literals"] / MIN_SHARED_LITERALS)
        + 0.25 * m["same_signature"]
    )


def _reasons(task_id: str, m: dict) -> list[str]:
    out = []
    if m["same_name"]:
        out.append(f"function name is {task_id}'s entry point")
    if m["docstring"] >= DOCSTRING_CONTAINMENT:
        out.append(f"docstring shares {m['docstring']:.0%} of its word 5-grams with {task_id}")
    if m["calls"] >= CALL_SHARE and m["shared_calls"] >= MIN_SHARED_CALLS:
        out.append(f"{m['shared_calls']} call argument lists ({m['calls']:.0%}) are {task_id}'s")
    if (
        m["literals"] >= LITERAL_SHARE
        and m["shared_literals"] >= MIN_SHARED_LITERALS
        and m["same_signature"]
    ):
        out.append(
            f"same signature as {task_id} and {m['shared_literals']} of its distinctive "
            f"literals ({m['literals']:.0%})"
        )
    return out


def nearest(problem) -> Evidence:
    """The text measures against every HumanEval task: the nearest one and any flag."""
    mine = profile(problem.prompt, problem.tests, problem.entry_point)
    scored = []
    for task, theirs in humaneval_profiles():
        m = _measures(mine, theirs)
        scored.append((_score(m), task, theirs, m))
    scored.sort(key=lambda s: -s[0])
    flagged = [(task, m) for _, task, _, m in scored if _reasons(task.source, m)]
    top_task, top_m = flagged[0] if flagged else (scored[0][1], scored[0][3])
    same_arity = [t for _, t, prof, _ in scored if prof.arity == mine.arity]
    return Evidence(
        nearest=top_task.source,
        measures=top_m,
        flagged=bool(flagged),
        reasons=_reasons(top_task.source, top_m),
        candidates=same_arity[:EXECUTION_CANDIDATES],
    )


def humaneval_overlap(problem) -> str | None:
    """Why a problem looks taken from HumanEval by the text measures, or None (no sandbox)."""
    ev = nearest(problem)
    return "; ".join(ev.reasons) if ev.flagged else None


def _as_task(task, entry_point: str):
    """HumanEval's tests aimed at a function named `entry_point` (they call check(candidate))."""
    return type(task)(prompt="", tests=task.tests, entry_point=entry_point, source=task.source)


def _canonical_as(task, entry_point: str) -> str:
    """The task's canonical solution under the problem's function name."""
    return f"{task.solution}\n\n{entry_point} = {task.entry_point}\n"


def decontaminate(problems: list, sandbox=None) -> list[Evidence]:
    """Evidence for each problem; with a sandbox, the execution check on its nearest tasks."""
    evidence = [nearest(p) for p in problems]
    if sandbox is None:
        return evidence
    pairs, owners = [], []
    for i, (p, ev) in enumerate(zip(problems, evidence)):
        for task in ev.candidates:
            if getattr(p, "solution", "").strip():
                pairs.append((_as_task(task, p.entry_point), p.solution))
                owners.append((i, task.source, "reference passes its tests"))
            pairs.append((p, _canonical_as(task, p.entry_point)))
            owners.append((i, task.source, "canonical solution passes this problem's tests"))
    verdicts = judge_many(sandbox, pairs, mode="function")
    for (i, task_id, what), v in zip(owners, verdicts):
        ev = evidence[i]
        ev.measures.setdefault("execution", None)
        if not v.passed:
            continue
        if ev.measures.get("execution") is None:
            ev.nearest, ev.measures["execution"] = task_id, f"{task_id}: {what}"
        ev.flagged = True
        ev.reasons.append(f"execution: {task_id}: {what}")
    for ev in evidence:
        ev.candidates = []
    return evidence


def report_path(curriculum) -> str:
    """Where a curriculum file's decontamination report goes."""
    return f"{curriculum}.decontam.json"


def write_report(curriculum, records: list[tuple[int, object]], evidence: list[Evidence]) -> str:
    """Write the report beside `curriculum` (atomically); returns its path."""
    path = Path(report_path(curriculum))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report(records, evidence), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return str(path)


def report(records: list[tuple[int, object]], evidence: list[Evidence]) -> dict:
    """The decontamination report of a curriculum file (written as `<file>.decontam.json`)."""
    rows = [
        {"line": line, "entry_point": p.entry_point, **ev.to_dict()}
        for (line, p), ev in zip(records, evidence)
    ]
    return {
        "benchmark": "HumanEval",
        "measures": {
            "docstring": f"word 5-gram containment (flag >= {DOCSTRING_CONTAINMENT})",
            "calls": f"share of call argument lists (flag >= {CALL_SHARE} and "
            f">= {MIN_SHARED_CALLS} shared)",
            "literals": f"share of distinctive literals (flag >= {LITERAL_SHARE}, "
            f">= {MIN_SHARED_LITERALS} shared, same signature)",
            "execution": f"reference vs the {EXECUTION_CANDIDATES} nearest same-arity tasks' tests, "
            "and their canonical solutions vs the problem's tests",
        },
        "problems": len(rows),
        "flagged": sum(r["flagged"] for r in rows),
        "records": rows,
    }
