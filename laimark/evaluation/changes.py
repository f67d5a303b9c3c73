"""What changed in an answer whose verdict changed: formatting, a fix, or another solution.

HumanEval gains are easily format effects: the LAIMARK paper's own audit found 8 of its 10 gains
were indentation fixes. For each task whose verdict differs between two runs, the two answers are
compared after normalisation:

* **format**: the same code once fences, `<think>` blocks, whitespace and indentation, comments
  and trailing test code (top-level asserts, prints, a `__main__` block) are set aside: the verdict
  changed because of how the answer was written out or extracted, not what it computes;
* **fix**: the same algorithm with a change, token sequences at least `SAME_ALGORITHM` similar
  (difflib's ratio on the normalised tokens);
* **different**: another solution.

    classify(answer_a, answer_b) -> "format" | "fix" | "different"
"""

from __future__ import annotations

import ast
import difflib
import re
from collections import Counter

from laimark.execution.harness import _FENCE, strip_think

SAME_ALGORITHM = 0.75  # token-sequence similarity from which two answers count as one algorithm
CLASSES = ("format", "fix", "different")

_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|[^\w\s]")
_TRAILING = re.compile(r"^(assert\b|print\(|if __name__\b)")


def code_of(answer: str) -> str:
    """The code of an answer: <think> dropped, the fenced blocks if there are any."""
    text = strip_think(answer)
    blocks = [m.group(2) for m in _FENCE.finditer(text)]  # group 1 is the language tag
    return "\n".join(blocks) if blocks else text


def _code_lines(answer: str) -> list[str]:
    """The answer's code lines without trailing test code (top-level asserts, prints, a
    `__main__` block)."""
    kept, in_main = [], False
    for line in code_of(answer).splitlines():
        if _TRAILING.match(line):
            in_main = line.startswith("if __name__")
            continue
        if in_main and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        in_main = False
        kept.append(line)
    return kept


def tokens(answer: str) -> list[str]:
    """The answer's code as tokens: no whitespace, indentation, comments or trailing tests."""
    kept = [
        line.split("#", 1)[0] if "#" in line and not _in_string(line) else line
        for line in _code_lines(answer)
    ]
    return _TOKEN.findall("\n".join(kept))


def _tree(answer: str) -> str | None:
    """The syntax tree of the answer's code without its trailing tests (None if it does not
    parse, as a body-only answer does not)."""
    try:
        return ast.dump(ast.parse("\n".join(_code_lines(answer))))
    except (SyntaxError, ValueError):
        return None


def _in_string(line: str) -> bool:
    """Whether the first `#` of a line sits inside a string literal (then it is not a comment)."""
    before = line.split("#", 1)[0]
    return before.count("'") % 2 == 1 or before.count('"') % 2 == 1


def classify(a: str, b: str) -> str:
    """How answer `b` differs from answer `a` (see the module docstring).

    >>> classify("def f(x):\\n  return x+1", "```python\\ndef f(x):\\n    return x + 1\\n```")
    'format'
    >>> classify("def f(x):\\n    return x + 1\\n", "def f(x):\\n    return x + 2\\n")
    'fix'
    >>> classify("def f(x):\\n    return x + 1\\n", "def f(y):\\n    y += 1\\n    return y\\n")
    'different'
    """
    ta, tb = tokens(a), tokens(b)
    if ta == tb:
        # Same tokens, but indentation can move a statement in or out of a block: where both
        # answers parse, "format" needs the same syntax tree too.
        trees = [_tree(x) for x in (a, b)]
        if None in trees or trees[0] == trees[1]:
            return "format"
        return "fix"
    ratio = difflib.SequenceMatcher(None, ta, tb, autojunk=False).ratio()
    return "fix" if ratio >= SAME_ALGORITHM else "different"


def classify_changes(changed: dict[str, tuple[str, str]]) -> dict:
    """task -> (answer A, answer B) for the tasks whose verdict changed: per-task class and counts."""
    per_task = {t: classify(a, b) for t, (a, b) in changed.items()}
    counts = Counter(per_task.values())
    return {"counts": {c: counts.get(c, 0) for c in CLASSES}, "tasks": per_task}
