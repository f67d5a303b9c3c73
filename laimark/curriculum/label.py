"""Execution-labelled tests: the model proposes inputs, running its reference gives the outputs.

The generation mode `labelled` (see `prompts.LABELLED_INSTRUCTION`) asks for a documented function
and test inputs only. Here every input is run on the reference in the sandbox, twice, under two
PYTHONHASHSEED values; a call that returns the same value both times becomes
`assert f(args) == <value>`. A problem is kept only if its docstring's examples agree with what
execution gives (else the statement and the tests would disagree), no output depends on the hash
seed (a list built from a set of strings, say), and enough calls returned a value.

    label_replies(replies, sandbox, min_tests) -> [Labelled(problem or None, code, note, stats)]
"""

from __future__ import annotations

import ast
import dataclasses
import math
from dataclasses import dataclass, field

from laimark.core.records import Problem
from laimark.curriculum.parse import LabelledReply
from laimark.execution.harness import label_job, label_many

SECOND_HASH_SEED = 1  # the second run's PYTHONHASHSEED (the first is the sandbox's own, 0)
MAX_ASSERT_CHARS = 2000  # a longer expected value is not a test a person can read
ADDED_EXAMPLES = 2  # examples written into a docstring that had none, from execution
MAX_EXAMPLE_CHARS = 70  # an added example's call and its result, each at most this long
FLOAT_TOLERANCE = 1e-9  # relative, for float results: another correct order of operations passes


class Unrenderable(ValueError):
    """A value with no literal form the tests could compare with (an iterator, a NaN...)."""


def render(value) -> str:
    """A Python expression that evaluates to `value` in the judge (pristine builtins)."""
    t = type(value)
    if value is None or t in (bool, int, str, bytes):
        return repr(value)
    if t is float:
        if math.isnan(value):
            raise Unrenderable("NaN equals nothing, not even itself")
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if t is list:
        return "[" + ", ".join(render(v) for v in value) + "]"
    if t is tuple:
        inner = ", ".join(render(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if t is dict:
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v in value.items()) + "}"
    if t in (set, frozenset):
        # Sorted by rendering so that the test text does not depend on the hash seed either.
        items = ", ".join(sorted(render(v) for v in value))
        body = "{" + items + "}" if value else ""
        return body if t is set and value else f"{t.__name__}({body})"
    raise Unrenderable(f"a {t.__name__} result has no literal form")


def assertion(call: str, value) -> str:
    """The test line for one labelled call; floats compared with a relative tolerance."""
    if type(value) is float and math.isfinite(value):
        return f"assert abs({call} - {value!r}) <= {FLOAT_TOLERANCE} * max(1.0, abs({value!r}))"
    return f"assert {call} == {render(value)}"


def same(a, b) -> bool:
    """Equal by value and of the same type at the top (True is not 1 here); NaN is NaN."""
    if type(a) is float and type(b) is float and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def example_agrees(expected: str, value) -> bool:
    """Does an example's written result match the executed one? The text is read as a Python
    literal on the host (`ast.literal_eval`, which evaluates nothing), else compared as text."""
    try:
        written = ast.literal_eval(expected)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        try:
            return expected.strip() in (repr(value), str(value), render(value))
        except Unrenderable:
            return False
    if type(written) is float or type(value) is float:
        try:
            return math.isclose(written, value, rel_tol=1e-6, abs_tol=1e-9)
        except TypeError:
            return False
    if isinstance(written, (list, tuple)) and isinstance(value, (list, tuple)):
        return list(written) == list(value)  # a docstring's (1, 2) for a returned [1, 2] is fine
    return written == value


@dataclass
class Labelled:
    """The outcome for one reply: the problem with its tests, or the reason it has none."""

    problem: Problem | None
    code: str | None = None  # a curriculum check code when rejected
    note: str = ""
    stats: dict = field(default_factory=dict)


def label_replies(replies: list[LabelledReply], sandbox, min_tests: int) -> list[Labelled]:
    """Label every reply's calls (docstring examples first) in two hash seeds; one result each."""
    calls = [_calls(r) for r in replies]
    jobs = [label_job(r.problem, r.problem.solution, c) for r, c in zip(replies, calls)]
    first = label_many(sandbox, jobs)
    second = label_many(sandbox.sibling(SECOND_HASH_SEED), jobs)
    return [
        _labelled(r, c, a, b, min_tests)
        for r, c, a, b in zip(replies, calls, first, second, strict=True)
    ]


def _calls(reply: LabelledReply) -> list[str]:
    return list(dict.fromkeys([call for call, _ in reply.examples] + reply.calls))


def _labelled(reply: LabelledReply, calls, a, b, min_tests: int) -> Labelled:
    stats = {"inputs": len(reply.calls), "examples": len(reply.examples)}
    if "passed" not in a.tests:
        note = f"the reference returns on none of its {len(calls)} inputs ({a.reason})"
        return Labelled(None, "solution_fails", note, stats)
    ok = {c: (ra, va) for c, ra, va in zip(calls, a.tests, a.values)}
    for call, (ra, va), rb, vb in zip(calls, ok.values(), b.tests, b.values):
        if ra == rb == "passed" and not same(va, vb):
            note = f"{call} returns {_short(va)} or {_short(vb)} depending on PYTHONHASHSEED"
            return Labelled(None, "nondeterministic", note, stats)
    for call, expected in reply.examples:
        result, value = ok[call]
        if result != "passed":
            note = f"the docstring's example {call} raises ({result}) when run"
            return Labelled(None, "example_mismatch", note, stats)
        if not example_agrees(expected, value):
            note = f"the docstring says {call} is {expected[:80]}, execution gives {_short(value)}"
            return Labelled(None, "example_mismatch", note, stats)
    tests, dropped = [], {"raised": 0, "unrenderable": 0, "too_long": 0}
    for call in calls:
        result, value = ok[call]
        if result != "passed":
            dropped["raised"] += 1
            continue
        try:
            line = assertion(call, value)
        except Unrenderable:
            dropped["unrenderable"] += 1
            continue
        if len(line) > MAX_ASSERT_CHARS:
            dropped["too_long"] += 1
            continue
        tests.append(line)
    stats.update(labelled=len(tests), dropped=dropped)
    if len(tests) < min_tests:
        note = f"{len(tests)} input(s) gave a result, at least {min_tests} wanted ({dropped})"
        return Labelled(None, "few_tests", note, stats)
    problem = dataclasses.replace(reply.problem, tests="\n".join(tests) + "\n")
    if not reply.examples and ">>>" in reply.problem.prompt:
        note = "the docstring's >>> examples show no result (or do not call the function)"
        return Labelled(None, "no_examples", note, stats)
    if not reply.examples and ">>>" not in (reply.problem.prompt or ""):
        # The statement a solver sees shows examples, as HumanEval's do; where the model wrote
        # none, the first short labelled calls are shown, so they agree with execution by
        # construction. A docstring that cannot take them leaves the problem without.
        shown = _examples_to_add(calls, ok)
        problem = with_examples(problem, shown)
        stats["examples_added"] = len(shown) if problem.prompt != reply.problem.prompt else 0
        if not stats["examples_added"]:
            return Labelled(None, "no_examples", "the docstring shows no >>> example", stats)
    return Labelled(problem, stats=stats)


def _examples_to_add(calls: list[str], ok: dict) -> list[tuple[str, str]]:
    shown = []
    for call in calls:
        result, value = ok[call]
        if result != "passed":
            continue
        try:
            text = render(value)
        except Unrenderable:
            continue
        # A backslash or quote triple would change meaning inside the docstring's literal.
        if max(len(call), len(text)) <= MAX_EXAMPLE_CHARS and not any(
            bad in call + text for bad in ("\\", '"""', "'''")
        ):
            shown.append((call, text))
        if len(shown) == ADDED_EXAMPLES:
            break
    return shown


def with_examples(problem: Problem, examples: list[tuple[str, str]]) -> Problem:
    """The problem with `>>> call` / result lines at the end of its entry point's docstring, in
    the prompt and in the reference solution alike; unchanged if the docstring is not found."""
    prompt = _add_to_docstring(problem.prompt, problem.entry_point, examples)
    solution = _add_to_docstring(problem.solution, problem.entry_point, examples)
    if prompt is None or solution is None:
        return problem
    return dataclasses.replace(problem, prompt=prompt, solution=solution)


def _add_to_docstring(source: str, entry: str, examples) -> str | None:
    if not examples:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry]
    if not defs or not defs[-1].body or not isinstance(defs[-1].body[0], ast.Expr):
        return None
    doc = defs[-1].body[0].value
    if not (isinstance(doc, ast.Constant) and isinstance(doc.value, str)):
        return None
    lines = source.splitlines(keepends=True)
    indent = " " * len(lines[doc.lineno - 1].encode()[: doc.col_offset].decode())
    block = "".join(f"{indent}>>> {call}\n{indent}{text}\n" for call, text in examples)
    last = lines[doc.end_lineno - 1]
    # ast's offsets count UTF-8 bytes; the closing quotes must be a triple to hold new lines.
    end = len(last.encode()[: doc.end_col_offset].decode())
    if last[end - 3 : end] not in ('"""', "'''"):
        return None
    closing = end - 3  # where the closing quotes start on the last line
    if last[:closing].strip():  # text before the closing quotes: `"""Sum."""`
        new_last = last[:closing] + "\n\n" + block + indent + last[closing:]
    else:
        new_last = ("\n" if doc.value.strip() else "") + block + last
    return "".join(lines[: doc.end_lineno - 1]) + new_last + "".join(lines[doc.end_lineno :])


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
