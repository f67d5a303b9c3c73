"""The change classifier of laimark.evaluation.changes on hand-made pairs of answers."""

from __future__ import annotations

import doctest

import pytest

from laimark.evaluation import changes
from laimark.evaluation.changes import classify, classify_changes

SORT = "def sort_desc(xs):\n    return sorted(xs, reverse=True)\n"


def test_doctests():
    assert doctest.testmod(changes).failed == 0


@pytest.mark.parametrize(
    "a, b",
    [
        # the paper's audit: a body indented wrongly, then rightly
        ("  return sorted(xs, reverse=True)\n", "    return sorted(xs, reverse=True)\n"),
        (SORT, "```python\n" + SORT + "```\n"),  # fenced
        (SORT, "<think>sorting</think>\n" + SORT),  # thinking first
        (SORT, SORT.replace("\n", "  # descending\n", 1)),  # a comment
        (SORT, SORT + "\nassert sort_desc([1, 2]) == [2, 1]\nprint(sort_desc([3]))\n"),
        (SORT, SORT + '\nif __name__ == "__main__":\n    print(sort_desc([1]))\n'),
    ],
)
def test_format_only_changes(a, b):
    assert classify(a, b) == "format"


def test_a_hash_inside_a_string_is_not_a_comment():
    a = "def tag(s):\n    return '#' + s\n"
    assert classify(a, a.replace("'#'", "'#!'")) == "fix"


def test_a_small_edit_is_a_fix_and_a_rewrite_is_different():
    loop = (
        "def sort_desc(xs):\n    out = list(xs)\n    for i in range(len(out)):\n"
        "        for j in range(i + 1, len(out)):\n            if out[j] > out[i]:\n"
        "                out[i], out[j] = out[j], out[i]\n    return out\n"
    )
    assert classify(loop, loop.replace("out[j] > out[i]", "out[j] >= out[i]")) == "fix"
    assert classify(SORT, loop) == "different"


def test_counts_cover_every_class():
    out = classify_changes({"T/0": (SORT, SORT), "T/1": (SORT, "def g():\n    pass\n")})
    assert out == {
        "counts": {"format": 1, "fix": 0, "different": 1},
        "tasks": {"T/0": "format", "T/1": "different"},
    }
