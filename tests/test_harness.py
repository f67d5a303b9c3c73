"""The judging harness: code extraction, program assembly, test splitting, verdicts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from laimark.evaluation.humaneval import load_humaneval
from laimark.execution.harness import (
    assemble,
    extract_code,
    judge,
    judge_many,
    preamble,
    split_tests,
)
from laimark.execution.sandbox import Limits, Sandbox, bwrap_usable

PROMPT = 'from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    """Sum of xs."""\n'
TESTS = "assert total([]) == 0\nassert total([1, 2]) == 3\nassert total(\n    [5]\n) == 5\n"
PROBLEM = SimpleNamespace(prompt=PROMPT, tests=TESTS, entry_point="total")
FULL = "```python\ndef total(xs: List[int]) -> int:\n    return sum(xs)\n```"
BODY = "    return sum(xs)\n"


@pytest.fixture(scope="module")
def sandbox():
    level = "bwrap" if bwrap_usable()[0] else "process"
    with Sandbox(level=level, workers=2, limits=Limits(timeout=3.0, cpu_seconds=3)) as sb:
        yield sb


# ---------------------------------------------------------------- extraction
def test_extract_prefers_the_block_defining_the_entry_point():
    text = "Here:\n```python\nprint(1)\n```\nand\n```python\ndef total(xs):\n    return 1\n```"
    assert extract_code(text, "total").startswith("def total")


def test_extract_drops_think_sections():
    text = "<think>```python\ndef total(xs):\n    return 0\n```</think>\n" + FULL
    assert "return sum" in extract_code(text, "total")


def test_extract_handles_a_bare_closing_think_tag():
    text = "reasoning about it...</think>\n" + FULL
    assert "return sum" in extract_code(text, "total")


def test_extract_accepts_an_unterminated_fence():
    assert "return sum" in extract_code("```python\ndef total(xs):\n    return sum(xs)\n", "total")


def test_extract_trims_prose_around_unfenced_code():
    text = "Sure! Here it is:\ndef total(xs):\n    return sum(xs)\nThis sums the list."
    code = extract_code(text, "total")
    assert code.startswith("def total") and "This sums" not in code


def test_extract_leaves_a_body_alone():
    assert extract_code(BODY, "total") == BODY


WITH_CONSTANT = "OFFSET = 1\n\ndef total(xs):\n    return sum(xs) + OFFSET - 1\n"


def test_extract_keeps_a_constant_before_the_def():
    assert extract_code(WITH_CONSTANT, "total") == WITH_CONSTANT


def test_extract_keeps_a_call_before_the_def():
    text = "Here it is:\nsys.setrecursionlimit(10**6)\n\ndef total(xs):\n    return sum(xs)\n"
    assert extract_code(text, "total").startswith("sys.setrecursionlimit(10**6)\n")


@pytest.mark.parametrize(
    "prose", ["Here is the solution:", "Sure!", "Python", "Example: total([1])", "Sure, thanks"]
)
def test_extract_drops_prose_lines_before_the_code(prose):
    assert extract_code(f"{prose}\n\n{WITH_CONSTANT}", "total") == WITH_CONSTANT


def test_extract_drops_trailing_prose_after_code_with_a_constant():
    code = extract_code(WITH_CONSTANT + "This adds the offset.\n", "total")
    assert code == WITH_CONSTANT


# ---------------------------------------------------------------- assembly
def test_body_and_full_function_assemble_to_equivalent_programs():
    body = assemble(PROBLEM, BODY, "auto")
    full = assemble(PROBLEM, FULL, "auto")
    assert body.startswith(PROMPT) and "return sum(xs)" in body
    assert full.startswith("from typing import List") and "return sum(xs)" in full


def test_body_mode_cuts_trailing_top_level_code():
    program = assemble(PROBLEM, BODY + "\nprint(total([1]))\n", "body")
    assert "print(" not in program


def test_self_tests_after_the_function_are_dropped():
    answer = (
        FULL[:-3]
        + "\nprint(total([1]))\nassert total([1]) == 2\nif __name__ == '__main__':\n    main()\n"
    )
    program = assemble(PROBLEM, answer + "```", "function")
    assert "return sum(xs)" in program
    assert "print(" not in program and "assert" not in program and "__main__" not in program


def test_definitions_after_the_function_are_kept():
    answer = "def total(xs):\n    return helper(xs)\n\nLIMIT = 3\n\ndef helper(xs):\n    return sum(xs)\n"
    program = assemble(PROBLEM, answer, "function")
    assert "LIMIT = 3" in program and "def helper" in program


def test_answer_cut_off_inside_its_self_test_still_parses():
    answer = "def total(xs):\n    return sum(xs)\n\nprint(total([1, 2]"
    program = assemble(PROBLEM, answer, "function")
    compile(program, "<p>", "exec")
    assert "print" not in program


def test_preamble_keeps_helpers_and_drops_the_entry_point():
    prompt = 'import math\n\ndef helper(x):\n    return x\n\n\ndef total(xs):\n    """Doc."""\n'
    pre = preamble(prompt, "total")
    assert "import math" in pre and "def helper" in pre and "def total" not in pre


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        assemble(PROBLEM, BODY, "whole")


# ---------------------------------------------------------------- tests splitting
def test_each_assert_is_a_unit_and_setup_travels_with_the_next_assert():
    setup, units = split_tests(
        "xs = [1]\nassert total(xs) == 1\nassert total(\n    []) == 0\n", "total"
    )
    assert setup == "" and len(units) == 2 and units[0].startswith("xs = [1]")


def test_humaneval_check_is_one_unit():
    setup, units = split_tests("def check(candidate):\n    assert candidate(1)\n", "f")
    assert "def check" in setup and units == ["check(f)"]


# ---------------------------------------------------------------- verdicts
def test_body_only_and_full_function_answers_both_pass(sandbox):
    """The original LAIMARK reward scored body-only answers 0; here both forms pass."""
    verdicts = judge_many(sandbox, [(PROBLEM, BODY), (PROBLEM, FULL)])
    assert [v.passed for v in verdicts] == [True, True]


def test_fraction_counts_the_asserts_passed(sandbox):
    v = judge(sandbox, PROBLEM, "def total(xs):\n    return 0\n")
    assert (v.n_tests, v.n_passed, v.reason) == (3, 1, "assertion")
    assert v.fraction == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "completion, reason",
    [
        ("def total(xs):\n    return sum(xs\n", "syntax_error"),
        ("def total(xs):\n    return 1 // 0\n", "exception:ZeroDivisionError"),
        ("def total(xs):\n    return total(xs)\n", "recursion"),
        ("raise KeyError('at load')\n", "exception:KeyError"),
    ],
)
def test_failure_reasons(sandbox, completion, reason):
    v = judge(sandbox, PROBLEM, completion, mode="function")
    assert not v.passed and v.reason == reason, v


def test_unfenced_answer_with_a_constant_before_the_def_passes(sandbox):
    v = judge(sandbox, PROBLEM, "Here is the solution:\n" + WITH_CONSTANT + "Done.\n")
    assert v.passed, v


def test_no_tests_is_not_a_pass(sandbox):
    problem = SimpleNamespace(prompt=PROMPT, tests="", entry_point="total")
    v = judge(sandbox, problem, BODY)
    assert not v.passed and v.reason == "no_tests"


def test_exceptions_expected_by_tests_reach_them(sandbox):
    problem = SimpleNamespace(
        prompt="",
        entry_point="f",
        tests=(
            "try:\n    f(-1)\n    raised = False\nexcept ValueError:\n    raised = True\nassert raised"
        ),
    )
    v = judge(sandbox, problem, "def f(x):\n    if x < 0:\n        raise ValueError(x)\n")
    assert v.passed, v


def test_humaneval_canonical_solutions_all_pass(sandbox):
    problems = load_humaneval()
    verdicts = judge_many(
        sandbox, [(p, p.extra["canonical_solution"]) for p in problems], mode="body"
    )
    failed = [p.source for p, v in zip(problems, verdicts) if not v.passed]
    assert failed == []
