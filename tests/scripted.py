"""A scripted stand-in for the *model* (the sandbox and harness stay real), and canned replies.

`ScriptedSampler` answers a generation prompt with the reply registered for its seed, and a solve
prompt with `k` correct and `n - k` wrong completions for the problem's entry point, so tests
choose exactly which problems pass which filter and what pass rate each gets. Run as a script it
executes a stage's `main` with this sampler in place of the real one, for subprocess (kill -9) tests:

    python tests/scripted.py SCRIPT.json laimark.generate_problems --count 3 ...
"""

from __future__ import annotations

import json
import re
import sys
import time

from laimark.core.seeds import item_seed


def fresh_seed(run_seed: int, i: int) -> int:
    """The seed laimark-generate gives fresh attempt i (see problem_gen.GenerationRun.plan)."""
    return item_seed(run_seed, "fresh", i)


def problem_reply(name: str, doc: str, body: str, tests: list[str], fence: bool = True) -> str:
    code = (
        f'def {name}(x):\n    """{doc}\n\n    >>> {tests[0].split("==")[0][7:].strip()}\n    """\n'
    )
    code += "".join(f"    {line}\n" for line in body.splitlines())
    asserts = "\n".join(tests)
    if not fence:
        return f"Here is a problem.\n\n{code}\nTests:\n{asserts}\n"
    return f"Sure! Here is the problem.\n\n```python\n{code}```\n\n```python\n{asserts}\n```\n"


def _good(name: str, doc: str, body: str, cases: list[tuple[str, str]], **kw) -> str:
    return problem_reply(name, doc, body, [f"assert {name}({a}) == {b}" for a, b in cases], **kw)


GOOD = {
    "triple_sum": _good(
        "triple_sum",
        "Return three times the sum of the list x.",
        "return 3 * sum(x)",
        [
            ("[1, 2]", "9"),
            ("[]", "0"),
            ("[5]", "15"),
            ("[-1, 1]", "0"),
            ("[2, 2]", "12"),
            ("[10]", "30"),
        ],
    ),
    "count_capitals": _good(
        "count_capitals",
        "Count the upper-case letters in the string x.",
        "return sum(c.isupper() for c in x)",
        [
            ("'AbC'", "2"),
            ("''", "0"),
            ("'xyz'", "0"),
            ("'QQ'", "2"),
            ("'ABCD'", "4"),
            ("'aB'", "1"),
        ],
    ),
    "reverse_words": _good(
        "reverse_words",
        "Reverse the order of the words in sentence x.",
        "return ' '.join(x.split()[::-1])",
        [
            ("'a b c'", "'c b a'"),
            ("''", "''"),
            ("'one'", "'one'"),
            ("'hi  there'", "'there hi'"),
            ("'x y'", "'y x'"),
            ("'1 2 3 4'", "'4 3 2 1'"),
        ],
        fence=False,
    ),
    "digit_product": _good(
        "digit_product",
        "Multiply the decimal digits of the integer x.",
        "p = 1\nfor d in str(abs(x)):\n    p *= int(d)\nreturn p",
        [("123", "6"), ("0", "0"), ("-45", "20"), ("7", "7"), ("99", "81"), ("25", "10")],
    ),
}
# The same problem thinking aloud first, with an assert over several lines.
GOOD["triple_sum_think"] = "<think>What about def broken(</think>\n" + GOOD["triple_sum"].replace(
    "assert triple_sum([5]) == 15", "assert triple_sum(\n    [5]\n) == 15"
)

BAD = {
    "malformed": "I would write a function that sorts things, but I am not sure how.",
    "no_docstring": "```python\ndef f(x):\n    return x\n```\n```python\nassert f(1) == 1\n"
    "assert f(2) == 2\nassert f(3) == 3\n```",
    "wrong_solution": _good(
        "halve_all",
        "Halve every number in the list x.",
        "return [v * 2 for v in x]",
        [("[2, 4]", "[1, 2]"), ("[]", "[]"), ("[8]", "[4]")],
    ),
    "vacuous": problem_reply(
        "always_zero",
        "Return zero for any list x of numbers.",
        "return 0",
        [
            "assert always_zero([1]) == 0",
            "assert always_zero([]) == 0",
            "assert always_zero([2, 3]) == 0",
        ],
    ),
    "clock": problem_reply(
        "stamp_len",
        "Return the number of characters of x plus the year.",
        "import time\nreturn len(x) + time.localtime().tm_year",
        [
            "assert stamp_len('') > 2000",
            "assert stamp_len('ab') > 2000",
            "assert stamp_len('abc') > 2000",
        ],
    ),
    "humaneval_copy": "```python\nfrom typing import List\n\n\ndef has_close_elements(numbers: "
    'List[float], threshold: float) -> bool:\n    """ Check if in given list of numbers, are any '
    "two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0,"
    ' 2.0, 3.0], 0.5)\n    False\n    """\n    for i, a in enumerate(numbers):\n        for j, b '
    "in enumerate(numbers):\n            if i != j and abs(a - b) < threshold:\n                "
    "return True\n    return False\n```\n```python\nassert has_close_elements([1.0, 2.0, 3.0], 0.5)"
    " == False\nassert has_close_elements([1.0, 2.8, 3.0], 0.3) == True\nassert has_close_elements("
    "[1.0, 2.0], 1.5) == True\nassert has_close_elements([1.0, 5.0], 2.0) == False\n```\n",
}


class ScriptedSampler:
    """A fake model. `replies`: seed -> reply for generation prompts (others get `default`).
    `solve`: entry point -> (correct code, wrong code, how many of n samples are correct)."""

    identity = {
        "name": "scripted",
        "kind": "folder",
        "path": "-",
        "revision": None,
        "sha256": "0" * 64,
        "adapters": [],
        "chain": ["scripted"],
    }

    def __init__(self, replies=None, solve=None, default=BAD["malformed"], delay=0.0):
        self.replies, self.solve = dict(replies or {}), dict(solve or {})
        self.default, self.delay = default, delay
        self.calls: list[tuple[str, int]] = []  # (kind, seed) of every prompt answered
        self.prompts: list = []
        self.tokens_generated = 0

    def generate(
        self, prompts, n=1, *, temperature=0.0, top_p=1.0, max_new_tokens=512, stop=(), seeds=None
    ):
        time.sleep(self.delay)
        return [self._answer(p, n, s) for p, s in zip(prompts, seeds, strict=True)]

    def _answer(self, prompt, n, seed):
        self.prompts.append(prompt)
        text = prompt[-1]["content"] if isinstance(prompt, list) else prompt
        if "Complete the following Python function" not in text:
            self.calls.append(("generate", seed))
            return [self.replies.get(seed, self.default)] * n
        self.calls.append(("solve", seed))
        name = re.search(r"def (\w+)\(", text.split("```python", 1)[1]).group(1)
        correct, wrong, k = self.solve.get(name, ("", "", 0))
        return [f"```python\n{correct if j < k else wrong}\n```" for j in range(n)]


def kill_then_resume(script: dict, tmp_path, module: str, argv: list[str], side, lines: int):
    """Run `module` with the scripted model in a subprocess, SIGKILL it once `side` (a journal or
    measurements file) holds `lines` lines, then run it again with --resume.

    Returns:
        (lines in `side` when it was killed, the resumed run's CompletedProcess).
    """
    import os
    import signal
    import subprocess
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    cmd = [sys.executable, str(tests / "scripted.py"), str(path), module, *argv]
    env = {**os.environ, "PYTHONPATH": f"{tests}{os.pathsep}{tests.parent}"}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    side, deadline = Path(side), time.time() + 60
    while time.time() < deadline and not (
        side.exists() and side.read_bytes().count(b"\n") >= lines
    ):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = side.read_bytes().count(b"\n")
    return killed_at, subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True)


if __name__ == "__main__":  # python tests/scripted.py SCRIPT.json MODULE ARGS...
    import importlib

    import laimark.models.sampling

    script = json.loads(open(sys.argv[1]).read())
    fake = ScriptedSampler(
        {int(k): v for k, v in script.get("replies", {}).items()},
        {k: tuple(v) for k, v in script.get("solve", {}).items()},
        delay=script.get("delay", 0.0),
    )
    laimark.models.sampling.sampler_for = lambda config: fake
    sys.exit(importlib.import_module(sys.argv[2]).main(sys.argv[3:]))
