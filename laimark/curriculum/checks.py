"""Curriculum quality checks: dedup, HumanEval contamination, non-vacuity, determinism.

Shared by `laimark-check` (a person's hand-edited JSONL), problem generation (issue 4's filters)
and calibration, so that "clean" means the same thing everywhere. The original LAIMARK data
showed why each check exists: HumanEval variations shipped as "self-generated", asserts that pass
for any function, and a test that depended on the clock.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from laimark.evaluation.humaneval import load_humaneval
from laimark.execution.harness import judge_many, split_tests

# Docstring word-trigram Jaccard above which two problems are duplicates: the original LAIMARK's
# value and comparison (`> 0.6`), which its paper reports.
JACCARD_THRESHOLD = 0.6

# Stand-ins for "a function that does nothing useful"; a test suite that one of them passes
# entirely cannot tell a right answer from a wrong one.
STUB_RETURNS = ("None", "0", "''", "[]", "True", "False", "args[0] if args else None")
# Calls whose results change from run to run or day to day.
NONDETERMINISTIC = re.compile(
    r"\b(time\.(time|localtime|gmtime|monotonic|perf_counter)|datetime\.(now|today|utcnow)|"
    r"date\.today|random\.\w+|uuid\.uuid[14]|os\.urandom|secrets\.\w+|os\.getpid)\s*\("
)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Finding:
    """The checks' verdict on one record. `codes` lists failed checks; empty means fine."""

    line: int
    entry_point: str
    codes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.codes

    def flag(self, code: str, note: str) -> None:
        self.codes.append(code)
        self.notes.append(f"{code}: {note}")

    def to_dict(self) -> dict:
        return {
            "line": self.line,
            "entry_point": self.entry_point,
            "ok": self.ok,
            "problems": self.codes,
            "notes": self.notes,
        }


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


@lru_cache(maxsize=1)
def humaneval_index() -> tuple[frozenset, list[tuple[str, frozenset]]]:
    """HumanEval's entry-point names and the word 5-grams of each docstring."""
    problems = load_humaneval()
    names = frozenset(p.entry_point for p in problems)
    grams = [(p.source, word_ngrams(docstring(p.prompt), 5)) for p in problems]
    return names, grams


def humaneval_overlap(prompt: str, entry_point: str, threshold: float = 0.5) -> str | None:
    """Why a problem looks taken from HumanEval, or None if it does not."""
    names, grams = humaneval_index()
    if entry_point in names:
        return f"function name '{entry_point}' is a HumanEval entry point"
    mine = word_ngrams(docstring(prompt), 5)
    best = max(((containment(mine, g), tid) for tid, g in grams), default=(0.0, ""))
    if best[0] >= threshold:
        return f"docstring shares {best[0]:.0%} of its word 5-grams with {best[1]}"
    return None


class Deduper:
    """Incremental duplicate detection: same entry point, or docstrings with trigram Jaccard
    above `threshold` (strictly, as the original LAIMARK compared). `seen(problem)` says why a
    problem repeats an earlier one. `exclude` names count as seen from the start."""

    def __init__(self, threshold: float = JACCARD_THRESHOLD, exclude: Iterable[str] = ()):
        self.threshold = threshold
        self._names: dict[str, str] = dict.fromkeys(exclude, "an --exclude_names entry")
        self._grams: list[tuple[str, frozenset]] = []

    def seen(self, problem, label: str = "") -> str | None:
        if problem.entry_point in self._names:
            return f"same entry point as {self._names[problem.entry_point]}"
        grams = word_ngrams(docstring(problem.prompt), 3)
        for other, g in self._grams:
            score = jaccard(grams, g)
            if score > self.threshold:
                return f"docstring trigram Jaccard {score:.2f} with {other}"
        return None

    def add(self, problem, label: str) -> None:
        self._names.setdefault(problem.entry_point, label)
        self._grams.append((label, word_ngrams(docstring(problem.prompt), 3)))


# ---------------------------------------------------------------- static test checks
def assert_calls(tests: str, entry_point: str) -> tuple[int, int]:
    """(number of asserts, number of them that call the entry point). HumanEval-style check()
    functions count as one assert that calls it."""
    setup, units = split_tests(tests, entry_point)
    if setup:
        return 1, 1
    n = calling = 0
    for unit in units:
        try:
            nodes = list(ast.walk(ast.parse(unit)))
        except SyntaxError:
            continue
        n += sum(isinstance(node, ast.Assert) for node in nodes)
        calling += any(
            isinstance(node, ast.Call) and getattr(node.func, "id", None) == entry_point
            for node in nodes
        )
    return n, calling


def stub(entry_point: str, returns: str) -> str:
    return f"def {entry_point}(*args, **kwargs):\n    return {returns}\n"


# ---------------------------------------------------------------- the whole check
def check_problems(
    problems: Sequence[tuple[int, object]],
    sandbox,
    *,
    min_tests: int = 3,
    jaccard_threshold: float = JACCARD_THRESHOLD,
    humaneval: bool = True,
    progress: bool = False,
) -> list[Finding]:
    """Run every check on (line, problem) pairs; returns one Finding per problem, in order."""
    findings = [Finding(line, p.entry_point) for line, p in problems]
    deduper = Deduper(jaccard_threshold)
    for f, (line, p) in zip(findings, problems):
        _static_checks(f, p, min_tests, humaneval)
        why = deduper.seen(p)
        if why:
            f.flag("duplicate", why)
        deduper.add(p, f"line {line}")
    _run_checks(findings, [p for _, p in problems], sandbox, progress)
    return findings


def _static_checks(f: Finding, p, min_tests: int, humaneval: bool) -> None:
    n, calling = assert_calls(p.tests, p.entry_point)
    if n < min_tests:
        f.flag("few_tests", f"{n} assert(s), at least {min_tests} wanted")
    if calling < n:
        f.flag("test_without_call", f"{n - calling} assert(s) never call {p.entry_point}()")
    source = p.tests + "\n" + getattr(p, "solution", "")
    match = NONDETERMINISTIC.search(source)
    if match:
        f.flag(
            "nondeterministic_api", f"uses {match.group(0).rstrip('(')}, which varies between runs"
        )
    if humaneval:
        why = humaneval_overlap(p.prompt, p.entry_point)
        if why:
            f.flag("humaneval_overlap", why)
    if not getattr(p, "solution", "").strip():
        f.flag("no_solution", "no reference solution to verify the tests with")


def _run_checks(findings: list[Finding], problems: list, sandbox, progress: bool) -> None:
    """The checks that run code: the solution passes (twice, identically); no stub passes."""
    pairs, owners = [], []
    for i, p in enumerate(problems):
        if not getattr(p, "solution", "").strip():
            continue
        for _ in range(2):
            pairs.append((p, p.solution))
            owners.append((i, "solution"))
        for returns in STUB_RETURNS:
            pairs.append((p, stub(p.entry_point, returns)))
            owners.append((i, returns))
    verdicts = judge_many(sandbox, pairs, mode="function", progress=progress, desc="checking")
    runs: dict[int, list] = {}
    for (i, what), v in zip(owners, verdicts):
        runs.setdefault(i, []).append((what, v))
    for i, results in runs.items():
        _judge_runs(findings[i], results)


def _judge_runs(f: Finding, results: list) -> None:
    solution = [v for what, v in results if what == "solution"]
    if not solution[0].passed:
        f.flag(
            "solution_fails",
            f"reference solution fails its tests ({solution[0].reason}: "
            f"{solution[0].detail[:200]})",
        )
    if solution[0].tests != solution[1].tests:
        f.flag("nondeterministic", "two runs of the reference solution gave different results")
    for what, v in results:
        if what != "solution" and v.passed:
            f.flag("vacuous", f"tests pass for a stub that returns {what}")
            break
