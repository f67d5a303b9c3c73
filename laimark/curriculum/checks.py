"""Curriculum quality checks: dedup, HumanEval contamination, test adequacy, determinism.

Shared by `laimark-check` (a person's hand-edited JSONL), problem generation (issue 4's filters)
and calibration, so that "clean" means the same thing everywhere. The original LAIMARK data
showed why each check exists: HumanEval variations shipped as "self-generated", asserts that pass
for any function, and a test that depended on the clock.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from laimark.core.config import check
from laimark.core.seeds import item_seed
from laimark.curriculum.decontam import decontaminate, docstring, jaccard, word_ngrams
from laimark.execution.harness import judge_many, split_tests

# Docstring word-trigram Jaccard above which two problems are duplicates: the original LAIMARK's
# value and comparison (`> 0.6`), which its paper reports.
JACCARD_THRESHOLD = 0.6

# Stand-ins for "a function that does nothing useful": constants, None, the identity (first
# argument) and the sorted input. A test suite that one of them passes entirely cannot tell a
# right answer from a wrong one (`vacuous`); one that it passes half of gives a stub half the
# fractional reward (`weak_tests`).
STUB_RETURNS = (
    "None",
    "0",
    "1",
    "-1",
    "''",
    "[]",
    "{}",
    "True",
    "False",
    "args[0] if args else None",
    "sorted(args[0]) if args else None",
)
MAX_STUB_SHARE = 0.5  # a stub may pass at most this share of the tests
MIN_MUTANT_KILL = 0.5  # the tests must fail at least this share of the reference's mutants
N_MUTANTS = 8
HASH_SEEDS = (0, 1)  # the reference runs under both: its results may not depend on string hashing
# Calls whose results change from run to run or day to day.
NONDETERMINISTIC = re.compile(
    r"\b(time\.(time|localtime|gmtime|monotonic|perf_counter)|datetime\.(now|today|utcnow)|"
    r"date\.today|random\.\w+|uuid\.uuid[14]|os\.urandom|secrets\.\w+|os\.getpid)\s*\("
)


@dataclass
class Finding:
    """The checks' verdict on one record. `codes` lists failed checks; empty means fine."""

    line: int
    entry_point: str
    codes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    adequacy: dict = field(default_factory=dict)  # stub shares and mutant kills, measured
    decontam: dict = field(default_factory=dict)  # nearest HumanEval task and the evidence

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
            "adequacy": self.adequacy,
            "decontamination": self.decontam,
        }


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


@dataclass(frozen=True)
class Adequacy:
    """How demanding a problem's tests must be: the flags of `add_adequacy_args`."""

    max_stub_share: float = MAX_STUB_SHARE
    min_mutant_kill: float = MIN_MUTANT_KILL
    mutants: int = N_MUTANTS

    def __post_init__(self) -> None:
        check(0 < self.max_stub_share <= 1, "--max_stub_share must be in (0, 1]")
        check(0 <= self.min_mutant_kill <= 1, "--min_mutant_kill must be in [0, 1]")
        check(self.mutants >= 0, "--mutants must be >= 0")


def add_adequacy_args(parser) -> None:
    """Flags of the test-adequacy checks (laimark-check and generation)."""
    g = parser.add_argument_group("test adequacy")
    g.add_argument(
        "--max_stub_share",
        type=float,
        default=MAX_STUB_SHARE,
        help="a trivial stub (constant, None, first argument, sorted input) may pass at most "
        "this share of a problem's tests (default %(default)s: a constant True or False passes "
        "half of balanced yes/no tests, so 'at most half' rather than 'less than half')",
    )
    g.add_argument(
        "--min_mutant_kill",
        type=float,
        default=MIN_MUTANT_KILL,
        help="share of the reference's mutants the tests must fail (default %(default)s; 0 only "
        "measures)",
    )
    g.add_argument(
        "--mutants",
        type=int,
        default=N_MUTANTS,
        help="mutants of the reference to try per problem (default %(default)s)",
    )


# ---------------------------------------------------------------- the whole check
def check_problems(
    problems: Sequence[tuple[int, object]],
    sandbox,
    *,
    min_tests: int = 3,
    jaccard_threshold: float = JACCARD_THRESHOLD,
    humaneval: bool = True,
    progress: bool = False,
    adequacy: Adequacy = Adequacy(),
) -> list[Finding]:
    """Run every check on (line, problem) pairs; returns one Finding per problem, in order."""
    findings = [Finding(line, p.entry_point) for line, p in problems]
    deduper = Deduper(jaccard_threshold)
    for f, (line, p) in zip(findings, problems):
        _static_checks(f, p, min_tests)
        why = deduper.seen(p)
        if why:
            f.flag("duplicate", why)
        deduper.add(p, f"line {line}")
    _run_checks(findings, [p for _, p in problems], sandbox, progress, adequacy)
    if humaneval:
        for f, ev in zip(findings, decontaminate([p for _, p in problems], sandbox)):
            f.decontam = ev.to_dict()
            if ev.flagged:
                f.flag("humaneval_overlap", "; ".join(ev.reasons))
    return findings


def _static_checks(f: Finding, p, min_tests: int) -> None:
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
    if not getattr(p, "solution", "").strip():
        f.flag("no_solution", "no reference solution to verify the tests with")


def _run_checks(
    findings: list[Finding], problems: list, sandbox, progress: bool, adequacy: Adequacy
) -> None:
    """The checks that run code: the reference passes under two hash seeds with the same results;
    stubs pass at most `max_stub_share` of the tests; the tests kill the reference's mutants."""
    pairs, owners = [], []
    for i, p in enumerate(problems):
        if not getattr(p, "solution", "").strip():
            continue
        pairs.append((p, p.solution))
        owners.append((i, "solution", None))
        for returns in STUB_RETURNS:
            pairs.append((p, stub(p.entry_point, returns)))
            owners.append((i, "stub", returns))
        for label, source in mutants(p.solution, p.entry_point, adequacy.mutants, p.key()):
            pairs.append((p, source))
            owners.append((i, "mutant", label))
    verdicts = judge_many(sandbox, pairs, mode="function", progress=progress, desc="checking")
    solutions = [pair for pair, (_, what, _) in zip(pairs, owners) if what == "solution"]
    other_seed = sandbox.sibling(HASH_SEEDS[1]) if hasattr(sandbox, "sibling") else sandbox
    again = iter(judge_many(other_seed, solutions, mode="function"))
    runs: dict[int, list] = {}
    for (i, what, label), v in zip(owners, verdicts):
        runs.setdefault(i, []).append((what, label, v))
        if what == "solution":
            runs[i].append(("again", None, next(again)))
    for i, results in runs.items():
        _judge_runs(findings[i], results, adequacy)


def _judge_runs(f: Finding, results: list, adequacy: Adequacy) -> None:
    first = next(v for what, _, v in results if what == "solution")
    again = next(v for what, _, v in results if what == "again")
    if not first.passed:
        f.flag(
            "solution_fails",
            f"reference solution fails its tests ({first.reason}: {first.detail[:200]})",
        )
    if first.tests != again.tests:
        f.flag(
            "nondeterministic",
            "the reference's results differ between two runs (PYTHONHASHSEED "
            f"{HASH_SEEDS[0]} and {HASH_SEEDS[1]}): set or dict order, or state kept between calls",
        )
    stubs = [(label, v) for what, label, v in results if what == "stub"]
    label, best = max(stubs, key=lambda s: s[1].fraction)
    if best.passed:
        f.flag("vacuous", f"tests pass for a stub that returns {label}")
    elif best.fraction > adequacy.max_stub_share:
        f.flag(
            "weak_tests",
            f"a stub that returns {label} passes {best.n_passed} of {best.n_tests} tests "
            f"(at most {adequacy.max_stub_share:.0%} wanted)",
        )
    killed = [not v.passed for what, _, v in results if what == "mutant"]
    f.adequacy = {
        "stub_max_share": round(best.fraction, 4),
        "stub_best": label,
        "mutants": len(killed),
        "mutants_killed": sum(killed),
        "mutant_kill_rate": round(sum(killed) / len(killed), 4) if killed else None,
    }
    if killed and first.passed and sum(killed) / len(killed) < adequacy.min_mutant_kill:
        f.flag(
            "weak_tests",
            f"the tests fail only {sum(killed)} of {len(killed)} mutants of the reference "
            f"(flipped comparisons, off-by-one constants, swapped branches; at least "
            f"{adequacy.min_mutant_kill:.0%} wanted)",
        )


# ---------------------------------------------------------------- mutants
_FLIP = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult}


def _sites(tree: ast.AST) -> list[tuple[str, int]]:
    """Every place a mechanical mutation applies: (kind, index of the node in ast.walk order).
    Only code inside function bodies: a module-level constant (a data table, or a list of the
    model's own expected outputs left in the reply) is not the algorithm under test."""
    inside = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for stmt in f.body
        for n in ast.walk(stmt)
    }
    sites = []
    for k, node in enumerate(ast.walk(tree)):
        if id(node) not in inside:
            continue
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
            sites.append(("flipped comparison", k))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP:
            sites.append(("swapped operator", k))
        elif isinstance(node, ast.BoolOp):
            sites.append(("and/or swapped", k))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites.append(("off-by-one", k))
        elif isinstance(node, (ast.If, ast.IfExp)):
            sites.append(("swapped branch", k))
    return sites


def _mutate(tree: ast.AST, kind: str, index: int) -> None:
    node = list(ast.walk(tree))[index]
    if kind == "flipped comparison":
        node.ops[0] = _FLIP[type(node.ops[0])]()
    elif kind == "swapped operator":
        node.op = _BINOP[type(node.op)]()
    elif kind == "and/or swapped":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "off-by-one":
        node.value += 1
    elif isinstance(node, ast.IfExp):
        node.body, node.orelse = node.orelse, node.body
    elif node.orelse:
        node.body, node.orelse = node.orelse, node.body
    else:
        node.test = ast.UnaryOp(ast.Not(), node.test)


def mutants(solution: str, entry_point: str, limit: int, key: str) -> list[tuple[str, str]]:
    """Up to `limit` mutants of the reference, as (what was mutated, source): one mechanical
    change each, at sites drawn evenly by a seed from the problem's key (the same every run)."""
    try:
        tree = ast.parse(solution)
    except SyntaxError:
        return []
    sites = _sites(tree)
    rng = random.Random(item_seed(0, "mutants", key))
    chosen = sorted(rng.sample(sites, min(limit, len(sites))), key=lambda s: s[1])
    out, seen = [], {ast.unparse(tree)}
    for kind, index in chosen:
        mutated = ast.parse(solution)
        _mutate(mutated, kind, index)
        try:
            source = ast.unparse(ast.fix_missing_locations(mutated))
        except (ValueError, TypeError):
            continue
        if source not in seen:
            seen.add(source)
            out.append((kind, source + "\n"))
    return out
