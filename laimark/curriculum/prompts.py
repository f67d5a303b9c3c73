"""The prompts that ask the model to write problems, versioned.

The prompt that asks the policy to *solve* a problem is the solve format's (`laimark.core.solve`).
Changing a template here must bump GENERATE_PROMPT_VERSION: it is written into every generated
problem and sidecar.
"""

from __future__ import annotations

# ---------------------------------------------------------------- problem generation
# The model writes a new problem as a reference solution (signature, docstring with examples,
# body) and a block of asserts; `laimark.curriculum.parse` turns the reply into a Problem.
# generate-v1 showed a worked example in the request: the 0.5B model copied it in 7 of 8 replies,
# so v2 describes the format in words only (same yield as an example given as an earlier chat
# turn, and more varied problems).
GENERATE_PROMPT_VERSION = "generate-v2"
# The execution-labelled mode (`--mode labelled`): the model writes the function and test *inputs*
# only; the expected outputs come from running its reference in the sandbox (the executor is the
# truth, as in Absolute Zero and CodeT). 82% of generate-v2's parsed replies died because the
# 0.5B model guessed its own expected outputs wrong. A v2 that showed the reply's shape as a
# skeleton with placeholders (`def descriptive_name(<arguments>)`) was measured on the same 32
# topics and seeds and dropped: the 0.5B model copied the placeholders into 26 of 32 replies
# (1 clean problem, against 5 for v1 with the same parser).
LABELLED_PROMPT_VERSION = "labelled-v1"

GENERATE_SYSTEM = (
    "You are an expert Python programmer who writes programming exercises with exact tests."
)

GENERATE_INSTRUCTION = (
    "Write a new, original Python programming problem.\n"
    "Topic: {topic}. Difficulty: {difficulty}.\n\n"
    "Reply with exactly two ```python code blocks:\n"
    "1. The reference solution: one function with a descriptive name, type hints and a docstring "
    "that states the task precisely, including edge cases, and shows an example with >>>. "
    "Put any imports above the function.\n"
    "2. At least {min_tests} tests, one `assert` per line, each calling the function with "
    "concrete arguments and comparing the result with the exact expected value.\n\n"
    "The function must be deterministic (no randomness, clock, files, network or input()), use "
    "only the standard library, and take and return plain built-in values (numbers, strings, "
    "lists, tuples, dicts, sets, booleans, None)."
)

HARDER_INSTRUCTION = (
    "Here is a Python programming problem with its tests:\n\n"
    "```python\n{solution}```\n\n```python\n{tests}\n```\n\n"
    "Write a new, harder problem derived from it: add a requirement, a constraint or a twist so "
    "that it needs more careful reasoning. Give the new function a different name.\n\n"
    "Reply with exactly two ```python code blocks and nothing else: the reference solution (one "
    "function with type hints and a docstring that states the task precisely and shows an example "
    "with >>>), then at least {min_tests} tests, one `assert` per line, with exact expected values."
    " The function must be deterministic and use only the standard library."
)


LABELLED_INSTRUCTION = (
    "Write a new, original Python programming problem.\n"
    "Topic: {topic}. Difficulty: {difficulty}.\n\n"
    "Reply with exactly two ```python code blocks:\n"
    "1. The reference solution: one function with a descriptive name, type hints and a docstring "
    "that states the task precisely, including edge cases, and shows two examples as `>>>` lines, "
    "each followed by its result. Put any imports above the function.\n"
    "2. A list named `test_inputs` with at least {min_inputs} test inputs, one per line: each is a "
    "tuple of the arguments of one call, in order (write `(x,)` for one argument). Cover typical "
    "cases and edge cases (empty, single item, duplicates, negative or large values). Inputs "
    "only: do not write the expected outputs.\n\n"
    "The function must be deterministic (no randomness, clock, files, network or input()), use "
    "only the standard library, and take and return plain built-in values (numbers, strings, "
    "lists, tuples, dicts, sets, booleans, None)."
)

HARDER_LABELLED_INSTRUCTION = (
    "Here is a Python function that solves a programming problem:\n\n"
    "```python\n{solution}```\n\n"
    "Write a new, harder problem derived from it: add a requirement, a constraint or a twist so "
    "that it needs more careful reasoning. Give the new function a different name.\n\n"
    "Reply with exactly two ```python code blocks and nothing else: the reference solution (one "
    "function with type hints and a docstring that states the task precisely and shows two "
    "examples as `>>>` lines with their results), then a list named `test_inputs` of at least "
    "{min_inputs} argument tuples, one per line, including edge cases, without expected outputs."
    " The function must be deterministic and use only the standard library."
)


def labelled_prompt(
    topic: str, difficulty: str, min_inputs: int = 10, system_prompt: str | None = GENERATE_SYSTEM
) -> list[dict]:
    """Chat messages asking for one new problem as a reference solution and test inputs."""
    user = LABELLED_INSTRUCTION.format(topic=topic, difficulty=difficulty, min_inputs=min_inputs)
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": user}]


def harder_labelled_prompt(
    solution: str, min_inputs: int = 10, system_prompt: str | None = GENERATE_SYSTEM
) -> list[dict]:
    """Chat messages asking for a harder variant of a verified problem, in the labelled mode."""
    text = solution if solution.endswith("\n") else solution + "\n"
    user = HARDER_LABELLED_INSTRUCTION.format(solution=text, min_inputs=min_inputs)
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": user}]


def generate_prompt(
    topic: str, difficulty: str, min_tests: int = 5, system_prompt: str | None = GENERATE_SYSTEM
) -> list[dict]:
    """Chat messages asking for one new problem (reference solution + assert tests).

    Args:
        topic: what the problem is about ("string manipulation").
        difficulty: a free-form label ("easy", "medium", "hard").
        min_tests: how many asserts to ask for.
        system_prompt: system message; None or "" for none.
    """
    user = GENERATE_INSTRUCTION.format(topic=topic, difficulty=difficulty, min_tests=min_tests)
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": user}]


def harder_prompt(
    solution: str, tests: str, min_tests: int = 5, system_prompt: str | None = GENERATE_SYSTEM
) -> list[dict]:
    """Chat messages asking for a harder variant of a verified problem (its solution and tests)."""
    text = solution if solution.endswith("\n") else solution + "\n"
    user = HARDER_INSTRUCTION.format(solution=text, tests=tests.rstrip("\n"), min_tests=min_tests)
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": user}]
