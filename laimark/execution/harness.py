"""The one judging harness: (problem, completion, mode) -> program -> verdict.

Calibration, the GRPO reward, evaluation and the curriculum checks all come through here, so a
completion gets the same verdict whichever stage looks at it. (In the original LAIMARK code each
stage assembled programs its own way; the training reward did not prepend the prompt, so a correct
body-only answer scored 0.)

A problem is a `core.records.Problem` (HumanEval's tasks are converted to it when they are
loaded), or anything else with `prompt`, `tests` and `entry_point`. Completions are assembled in one of three modes:

* ``body``: the completion continues the prompt (raw completion): program = prompt + body.
* ``function``: the completion holds the whole ``def``: program = the prompt's imports and helper
  functions + completion.
* ``auto`` (default): ``function`` if the extracted code defines the entry point, else ``body``.

Tests come in two styles, told apart by their source: plain ``assert`` statements (each one is a
test, so a verdict can give the fraction passed), or HumanEval's ``def check(candidate)`` (one test,
called as ``check(<entry_point>)``). The tests run in a separate trusted process from the
completion; see `_worker.py` for why that makes a pass impossible to fake.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import dropwhile

from laimark.execution._wire import CAPTURE_NAME, WireError, decode, result_problem

MODES = ("auto", "body", "function")

_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.S)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_CODE_START = re.compile(r"^(def |async def |class |import |from |@)", re.M)
# Lines as Python's tokenizer counts them (str.splitlines also breaks at \x0c, \x85, \u2028...),
# so that node.lineno indexes the list.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


@dataclass
class Verdict:
    """The judgement of one program.

    `reason` is "passed" or the first failure, from a closed set (`_wire.REASONS`, or
    exception:<Name> with a bounded identifier): syntax_error, assertion, exception:<Name>,
    timeout, memory, recursion, exited, killed, file_too_large, setup_error, test_syntax_error,
    no_tests, sandbox_error, protocol_error.
    `tests` holds one entry per test, "passed" or its failure reason.
    """

    passed: bool
    n_tests: int
    n_passed: int
    reason: str
    detail: str = ""
    tests: list[str] = field(default_factory=list)
    output: str = ""
    output_truncated: bool = False
    duration: float = 0.0
    values: list = field(default_factory=list)  # per test, its result (capture jobs only)

    @property
    def fraction(self) -> float:
        """Share of tests passed; 0.0 when there are no tests."""
        return self.n_passed / self.n_tests if self.n_tests else 0.0

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- code extraction
def strip_think(text: str) -> str:
    """Drop <think>...</think> sections; with a bare closing tag, keep what follows the last one."""
    if "</think>" in text and "<think>" not in text:
        text = text.rsplit("</think>", 1)[1]
    return _THINK.sub("", text)


def defines(code: str, name: str) -> bool:
    """True if `code` has a top-level `def name(`."""
    return re.search(rf"(?m)^(async\s+)?def\s+{re.escape(name)}\s*\(", code) is not None


def extract_code(text: str, entry_point: str | None = None) -> str:
    """The code in a model's answer: from fenced blocks if any, else from the text itself.

    Prefers the fenced block that defines `entry_point`, then the longest Python block. Without
    fences, takes the text from the first top-level def/import/class onward, trims trailing prose
    until it parses, and keeps the statements just before it (constants, set-up calls) that are
    code rather than prose. A text with no code markers is returned as is (a body completion).
    """
    text = strip_think(text)
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    if blocks:
        if entry_point:
            defining = [body for _, body in blocks if defines(body, entry_point)]
            if defining:
                return defining[0]
        python = [body for lang, body in blocks if lang in ("", "python", "py", "python3")]
        return max(python or [b for _, b in blocks], key=len)
    start = _CODE_START.search(text)
    if start is None or (entry_point and not defines(text, entry_point)):
        return text
    return _code_before(text[: start.start()]) + _trim_to_parse(text[start.start() :])


def _code_before(text: str) -> str:
    """The code at the end of the text before the first def/import/class: the longest run of final
    lines that parses, minus its statements that do nothing (prose that happens to parse)."""
    lines = _LINE.findall(text)
    for start in range(len(lines)):
        try:
            tree = ast.parse("".join(lines[start:]))
        except (SyntaxError, ValueError):
            continue
        return _drop_prose(tree, lines[start:])
    return ""


def _drop_prose(tree: ast.Module, lines: list[str]) -> str:
    prose, code = set(), set()
    for node in tree.body:
        (prose if _is_prose(node) else code).update(range(node.lineno - 1, node.end_lineno))
    if not code:
        return ""
    prose -= code  # a line shared through `;` with real code stays
    kept = (line for i, line in enumerate(lines) if i not in prose)
    return "".join(dropwhile(str.isspace, kept))


def _is_prose(node: ast.stmt) -> bool:
    """A statement that only states something, which in front of code is prose that parses:
    `Solution` or `Python` (a name), `Example: f(1)` (an annotation), `Sure, thanks` (a tuple),
    `f(3) == 5` (an example). Assignments, calls, imports and blocks are code."""
    if isinstance(node, ast.AnnAssign):
        return node.value is None
    return isinstance(node, ast.Expr) and not isinstance(node.value, (ast.Call, ast.NamedExpr))


def _trim_to_parse(code: str) -> str:
    lines = code.splitlines()
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end])
        try:
            ast.parse(candidate)
            return candidate + "\n"
        except SyntaxError:
            continue
    return code


# ---------------------------------------------------------------- program assembly
def _parse_prompt(prompt: str) -> tuple[ast.Module, list[str]] | None:
    """Parse a prompt that may end in a def with only a docstring (HumanEval style)."""
    for suffix in ("", "\n    pass\n", "\n        pass\n", "\n\tpass\n"):
        source = prompt + suffix
        try:
            return ast.parse(source), source.splitlines()
        except SyntaxError:
            continue
    return None


def _source_of(node: ast.stmt, lines: list[str]) -> str:
    """A top-level statement's source lines, decorators included."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[start - 1 : node.end_lineno])


def preamble(prompt: str, entry_point: str) -> str:
    """The prompt minus the entry point's own def: its imports, constants and helper functions."""
    parsed = _parse_prompt(prompt)
    if parsed is None:
        return "\n".join(
            line
            for line in prompt.splitlines()
            if _CODE_START.match(line) and line.startswith(("import ", "from "))
        )
    tree, lines = parsed
    kept = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            continue
        kept.append(_source_of(node, lines))
    return "\n".join(kept) + ("\n" if kept else "")


def body_only(code: str) -> str:
    """Cut a raw body completion where the function ends: at the first unindented line."""
    lines = code.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if i > 0 and line.strip() and not line[0].isspace():
            return "".join(lines[:i])
    return code


# Top-level statements a solution may need after its function: more definitions and constants.
# Anything else there (print(...), a self-test call, asserts, a __main__ block) is the model
# testing its own answer, often wrongly; it would run at load time and fail a correct function.
_DEFINITIONS = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Assign,
    ast.AnnAssign,
)


def drop_self_tests(code: str, entry_point: str) -> str:
    """Remove top-level code that follows the entry point's def and is not a definition.

    Code before the def is kept whole (set-up such as `sys.setrecursionlimit`). An answer cut off
    inside its trailing test code is first trimmed back to the longest prefix that parses.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        code = _trim_to_parse(code)
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return code  # judged as it is: a syntax error
    lines = code.splitlines()
    seen_entry, kept = False, []
    for node in tree.body:
        if seen_entry and not isinstance(node, _DEFINITIONS):
            continue
        kept.append(_source_of(node, lines))
        seen_entry = seen_entry or getattr(node, "name", None) == entry_point
    return "\n".join(kept) + "\n"


def assemble(problem, completion: str, mode: str = "auto") -> str:
    """The untrusted program for a completion: what runs in the candidate process."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    code = extract_code(completion, problem.entry_point)
    if mode == "auto":
        mode = "function" if defines(code, problem.entry_point) else "body"
    if mode == "function":
        code = drop_self_tests(code, problem.entry_point)
        return preamble(problem.prompt, problem.entry_point) + "\n" + code
    prompt = problem.prompt if problem.prompt.endswith("\n") else problem.prompt + "\n"
    return prompt + body_only(code)


def split_tests(tests: str, entry_point: str) -> tuple[str, list[str]]:
    """Split test source into (setup, units). Each assert is a unit; statements before an
    assert (assignments, imports) travel with it. HumanEval's check() is one unit."""
    try:
        tree = ast.parse(tests)
    except SyntaxError:
        return "", [tests]  # judged as one failing unit, reason test_syntax_error
    if any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body):
        return tests, [f"check({entry_point})"]
    lines = tests.splitlines()
    units, pending = [], []
    for node in tree.body:
        pending.append("\n".join(lines[node.lineno - 1 : node.end_lineno]))
        if isinstance(node, ast.Assert):
            units.append("\n".join(pending))
            pending = []
    if pending and units:
        units[-1] += "\n" + "\n".join(pending)
    return "", units


def build_job(problem, completion: str, mode: str = "auto") -> dict:
    """The sandbox job for one (problem, completion)."""
    setup, units = split_tests(problem.tests, problem.entry_point)
    return {
        "solution": assemble(problem, completion, mode),
        "setup": preamble(problem.prompt, problem.entry_point) + setup,
        "tests": units,
        "entry_point": problem.entry_point,
    }


def label_job(problem, solution: str, calls: Sequence[str]) -> dict:
    """A job that runs `solution` on each call expression (`f(1, [2])`) and sends back its result:
    how execution-labelled tests get their expected values (`Verdict.values`)."""
    return {
        "solution": solution,
        "setup": preamble(problem.prompt, problem.entry_point),
        "tests": [f"{CAPTURE_NAME} = {call}" for call in calls],
        "entry_point": problem.entry_point,
        "capture": True,
    }


def label_many(sandbox, jobs: Sequence[dict]) -> list[Verdict]:
    """Run `label_job`s in parallel; `Verdict.tests[i]` says whether call i returned, and
    `Verdict.values[i]` what it returned."""
    return list(sandbox.map(to_verdict, jobs))


# ---------------------------------------------------------------- verdicts
def to_verdict(job: dict, raw: dict) -> Verdict:
    """Turn the worker's raw result (one report per test) into a Verdict."""
    n = len(job["tests"])
    problem = result_problem(raw, n)
    if problem:  # never an exception: the run that sent it fails, the stage goes on
        return Verdict(False, n, 0, "protocol_error", problem, ["protocol_error"] * n)
    results: list[str | None] = [None] * n
    values: list = [None] * n
    detail, reason_all, done = "", None, False
    for msg in raw["reports"]:
        if msg.get("done"):
            done = True
        elif "load_error" in msg or "setup_error" in msg:
            reason_all = msg.get("load_error") or "setup_error"
            detail = msg.get("detail", "")
        elif "i" in msg:
            results[msg["i"]] = "passed" if msg["ok"] else msg["reason"]
            detail = detail or msg.get("detail", "")
            if "value" in msg:
                try:
                    values[msg["i"]] = decode(msg["value"])
                except WireError:
                    results[msg["i"]] = "protocol_error"
    missing = reason_all or _why_unfinished(raw)
    tests = [r or missing for r in results]
    n_passed = tests.count("passed")
    passed = done and n > 0 and n_passed == n and reason_all is None
    if n == 0:
        reason = "no_tests"
    else:
        # All tests passed but no "done": the judge was killed before it could say so.
        reason = "passed" if passed else next((t for t in tests if t != "passed"), missing)
    return Verdict(
        passed,
        n,
        n_passed,
        reason,
        detail,
        tests,
        raw.get("output", ""),
        raw.get("output_truncated", False),
        raw.get("duration", 0.0),
        values if job.get("capture") else [],
    )


def _why_unfinished(raw: dict) -> str:
    if raw.get("worker_lost"):
        return "sandbox_error"
    return "timeout" if raw.get("timed_out") else "killed"


def judge(sandbox, problem, completion: str, mode: str = "auto") -> Verdict:
    """Judge one completion."""
    job = build_job(problem, completion, mode)
    return to_verdict(job, sandbox.run(job))


def judge_many(
    sandbox,
    pairs: Iterable[tuple[object, str]],
    mode: str = "auto",
    progress: bool = False,
    desc: str = "judging",
) -> list[Verdict]:
    """Judge many (problem, completion) pairs in parallel across the sandbox's workers."""
    jobs: Sequence[dict] = [build_job(p, c, mode) for p, c in pairs]
    results = sandbox.map(to_verdict, jobs)
    if progress:
        from tqdm import tqdm

        results = tqdm(results, total=len(jobs), desc=desc, unit="prog")
    return list(results)
