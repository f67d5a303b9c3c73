"""Deduction and abduction: reasoning about a verified program instead of writing one.

From each verified code problem (Absolute Zero's three task types; the original LAIMARK's
`generate_deduction_abduction.py`), two kinds of items, in the original's record fields:

* **deduction** (`dd_code`, `dd_func_name`, `dd_input`, `dd_expected`): given the program and an
  input, predict the output. The answer is read as a Python literal on the host
  (`ast.literal_eval`, which evaluates nothing) and compared by value with the output of running
  the program on the input in the sandbox.
* **abduction** (`ab_code`, `ab_func_name`, `ab_expected`): given the program and an output, find
  an input. The answer must be literal arguments (anything else fails: model text is never run as
  an expression); the program runs on them in the sandbox and its result is compared with the
  target value, also computed in the sandbox.

Both judge through the harness's capture jobs (`harness.label_job`), so the sandbox runs every
program; the reward is 1.0 for a right answer. In training, the items' own fields travel in the
dataset's `item` column (`training.data.item_fields`). `derive_items` makes the items, with outputs
obtained by executing the reference, never copied from the model's asserts.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from laimark import tasks
from laimark.core.records import Problem
from laimark.core.solve import SolveFormat
from laimark.curriculum.label import same  # one notion of equal values, labelling's
from laimark.execution.harness import _FENCE, Verdict, label_job, label_many, strip_think

MAX_ANSWER_CHARS = 4000  # a longer answer is not a value anyone meant to write down

DEDUCTION_PROMPT = (
    "Here is a Python function:\n\n```python\n{code}```\n\n"
    "What does `{call}` return? Reply with the returned value only, written as a Python literal."
)
ABDUCTION_PROMPT = (
    "Here is a Python function:\n\n```python\n{code}```\n\n"
    "Give arguments for which `{func}(...)` returns `{expected}`. Reply with the arguments only, "
    "as Python literals separated by commas, exactly as they would appear between the "
    "parentheses of the call."
)


def answer_text(answer: str) -> str:
    """The value an answer states: thinking dropped, the first fenced block if any, backticks
    and an `Answer:` prefix stripped."""
    text = strip_think(answer)
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(2)
    text = text.strip()
    for prefix in ("Answer:", "answer:", "Output:", "Input:"):
        text = text.removeprefix(prefix).strip()
    return text.strip("`").strip()


def literal(text: str):
    """`text` as a Python literal, or raise ValueError (also for anything that is not one)."""
    if len(text) > MAX_ANSWER_CHARS:
        raise ValueError("answer too long")
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise ValueError(f"{text[:60]!r} is not a Python literal") from None


def literal_call(func: str, arguments: str) -> str:
    """`func(arguments)` when every argument is a literal, as source; else ValueError."""
    if len(arguments) > MAX_ANSWER_CHARS:
        raise ValueError("answer too long")
    try:
        node = ast.parse(f"{func}({arguments})", mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        raise ValueError(f"not arguments: {e}") from None
    if (
        not isinstance(node, ast.Call)
        or node.keywords
        and any(k.arg is None for k in node.keywords)
    ):
        raise ValueError("not a plain call")
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        if isinstance(arg, ast.Starred):
            raise ValueError("starred argument")
        literal(ast.unparse(arg))
    return ast.unparse(node)


def _program(code: str, func: str) -> Problem:
    """A problem around a program for the harness's capture jobs."""
    return Problem(prompt="", tests="", entry_point=func, solution=code)


def _failed(reason: str, detail: str) -> Verdict:
    return Verdict(passed=False, n_tests=1, n_passed=0, reason=reason, detail=detail[:300])


def _verdict(ok: bool, detail: str) -> Verdict:
    return Verdict(
        passed=ok,
        n_tests=1,
        n_passed=int(ok),
        reason="passed" if ok else "assertion",
        detail=detail[:300],
        tests=["passed" if ok else "assertion"],
    )


class _Reasoning:
    """What deduction and abduction share: the prompt is the item's own question."""

    name = ""

    def prompt(self, problem: Problem, fmt: SolveFormat) -> list[dict] | str:
        if not fmt.chat:
            return problem.prompt + "\n"
        system = [{"role": "system", "content": fmt.system_prompt}] if fmt.system_prompt else []
        return system + [{"role": "user", "content": problem.prompt}]

    def reward(self, verdict: Verdict, fractional: bool = False) -> float:
        return float(verdict.passed)


class DeductionTask(_Reasoning):
    name = "deduction"

    def judge(self, sandbox, pairs: Sequence[tuple[Problem, str]], fmt, **kwargs) -> list:
        jobs, predictions = [], []
        for problem, answer in pairs:
            x = problem.extra
            call = f"{x['dd_func_name']}({x['dd_input']})"
            jobs.append(label_job(_program(x["dd_code"], x["dd_func_name"]), x["dd_code"], [call]))
            try:
                predictions.append(("ok", literal(answer_text(answer))))
            except ValueError as e:
                predictions.append(("syntax_error", f"the answer is not a Python literal: {e}"))
        runs = label_many(sandbox, jobs)
        out = []
        for (status, predicted), run in zip(predictions, runs, strict=True):
            if run.tests[:1] != ["passed"]:
                out.append(_failed("setup_error", f"the program did not run: {run.reason}"))
            elif status != "ok":
                out.append(_failed(status, predicted))
            else:
                out.append(_verdict(same(predicted, run.values[0]), f"returns {run.values[0]!r}"))
        return out


class AbductionTask(_Reasoning):
    name = "abduction"

    def judge(self, sandbox, pairs: Sequence[tuple[Problem, str]], fmt, **kwargs) -> list:
        jobs, failed = [], {}
        for i, (problem, answer) in enumerate(pairs):
            x = problem.extra
            func, code = x["ab_func_name"], x["ab_code"]
            try:
                call = literal_call(func, answer_text(answer))
            except ValueError as e:
                failed[i] = _failed("syntax_error", f"the answer is not literal arguments: {e}")
                call = f"{func}()"  # a placeholder: its result is not looked at
            jobs.append(label_job(_program(code, func), code, [call, x["ab_expected"]]))
        runs = label_many(sandbox, jobs)
        out = []
        for i, run in enumerate(runs):
            if i in failed:
                out.append(failed[i])
            elif run.tests[1:2] != ["passed"]:
                out.append(_failed("setup_error", f"the target did not evaluate: {run.reason}"))
            elif run.tests[0] != "passed":
                out.append(_failed(run.tests[0], "the program raised on the proposed input"))
            else:
                got, want = run.values
                out.append(_verdict(same(got, want), f"returns {got!r}"))
        return out


tasks.register(DeductionTask())
tasks.register(AbductionTask())


# ---------------------------------------------------------------- deriving items
def _test_calls(problem: Problem) -> list[str]:
    """The calls of the entry point that the problem's asserts compare: `assert f(x) == y`."""
    try:
        tree = ast.parse(problem.tests)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
            continue
        left = node.test.left
        if (
            isinstance(left, ast.Call)
            and isinstance(left.func, ast.Name)
            and left.func.id == problem.entry_point
        ):
            calls.append(ast.unparse(left))
    return list(dict.fromkeys(calls))


def derive_items(problems: Sequence[Problem], sandbox, per_problem: int = 3) -> list[Problem]:
    """Deduction and abduction items from verified code problems, `per_problem` of each type per
    problem at most, from its test calls; the outputs come from running the reference solution
    in the sandbox (a call that raises, or whose value has no literal form, is skipped)."""
    from laimark.curriculum.label import Unrenderable, render

    chosen = [(p, _test_calls(p)) for p in problems if p.solution.strip()]
    runs = label_many(sandbox, [label_job(p, p.solution, calls) for p, calls in chosen])
    items = []
    for (p, calls), run in zip(chosen, runs, strict=True):
        made = 0
        for call, result, value in zip(calls, run.tests, run.values):
            if made == per_problem or result != "passed":
                continue
            try:
                expected = render(value)
            except Unrenderable:
                continue
            args = call[len(p.entry_point) + 1 : -1]
            common = {
                "source_entry_point": p.entry_point,
                "source_pass_rate": getattr(p, "pass_rate", None),
                "source": p.source,
                "topic": p.topic,
            }
            code = p.solution if p.solution.endswith("\n") else p.solution + "\n"
            items.append(
                Problem.from_dict(
                    {
                        "prompt": DEDUCTION_PROMPT.format(code=code, call=call),
                        "problem_type": "deduction",
                        "dd_code": code,
                        "dd_func_name": p.entry_point,
                        "dd_input": args,
                        "dd_expected": expected,
                        **common,
                    }
                )
            )
            items.append(
                Problem.from_dict(
                    {
                        "prompt": ABDUCTION_PROMPT.format(
                            code=code, func=p.entry_point, expected=expected
                        ),
                        "problem_type": "abduction",
                        "ab_code": code,
                        "ab_func_name": p.entry_point,
                        "ab_expected": expected,
                        **common,
                    }
                )
            )
            made += 1
    return items
