"""The curriculum's quality machinery: execution-labelled tests, adequacy checks (stubs, mutants,
hash seeds), decontamination against paraphrases, sequential calibration and the held-out split.
The sandbox is real throughout."""

from __future__ import annotations

import json
import math

import pytest

from laimark.core.records import Problem, load_records
from laimark.core.seeds import item_seed
from laimark.curriculum import calibrate as cal
from laimark.curriculum.checks import Adequacy, check_problems, mutants
from laimark.curriculum.decontam import decontaminate, humaneval_overlap
from laimark.curriculum.label import assertion, example_agrees, label_replies, render
from laimark.curriculum.parse import ParseError, doc_examples, parse_labelled_reply
from laimark.execution.harness import label_job, label_many
from laimark.execution.sandbox import Sandbox
from laimark.tasks import task_type

DATA = "tests/data/decontam"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as sb:
        yield sb


def reply(body: str, inputs: str, examples: str) -> str:
    return (
        "Here is the problem.\n\n```python\nfrom typing import List\n\n\n"
        "def pick_words(words: List[str], k: int = 1) -> List[str]:\n"
        f'    """Return the words that appear at least k times, sorted.\n\n{examples}    """\n'
        f"    {body}\n```\n\n```python\ntest_inputs = [\n{inputs}]\n```\n"
    )


EXAMPLES = "    >>> pick_words(['a', 'b', 'a'], 2)\n    ['a']\n    >>> pick_words([])\n    []\n"
INPUTS = (
    "    (['a', 'b', 'a'], 2),\n    (['y', 'x', 'y'],),\n    ([], 3),\n    (['p', 'q', 'p', 'q'], 2),\n"
    "    (['z'] * 5, 5),\n    (None, 1),\n    (['d', 'c', 'd', 'c', 'c'], 3),\n    (['f', 'e', 'f'], 1),\n"
)
SORTED = "return sorted(w for w in set(words) if words.count(w) >= k)"


# ---------------------------------------------------------------- parsing and labelling
def test_labelled_reply_gives_calls_and_examples_not_expected_values():
    r = parse_labelled_reply(reply(SORTED, INPUTS, EXAMPLES))
    assert r.problem.entry_point == "pick_words" and r.problem.tests == ""
    assert "test_inputs" not in r.problem.prompt and "test_inputs" not in r.problem.solution
    assert r.calls[:3] == [
        "pick_words(['a', 'b', 'a'], 2)",
        "pick_words(['y', 'x', 'y'])",  # (x,) is one argument
        "pick_words([], 3)",
    ]
    assert r.examples == [("pick_words(['a', 'b', 'a'], 2)", "['a']"), ("pick_words([])", "[]")]


def test_a_reply_without_inputs_is_refused():
    with pytest.raises(ParseError) as e:
        parse_labelled_reply(reply(SORTED, "", EXAMPLES).replace("test_inputs = [\n]", ""))
    assert e.value.code == "no_inputs"


def test_one_argument_functions_take_bare_elements():
    text = (
        '```python\ndef double(x: int) -> int:\n    """Twice x.\n\n    >>> double(2)\n    4\n'
        '    """\n    return 2 * x\n```\n```python\ninputs = [3, (4,), (5, 6)]\n```\n'
    )
    assert parse_labelled_reply(text).calls == ["double(3)", "double(4)", "double((5, 6))"]


def test_labelled_tests_come_from_execution(sandbox):
    (out,) = label_replies([parse_labelled_reply(reply(SORTED, INPUTS, EXAMPLES))], sandbox, 3)
    assert out.code is None
    tests = out.problem.tests.splitlines()
    assert "assert pick_words(['p', 'q', 'p', 'q'], 2) == ['p', 'q']" in tests
    assert not any("None" in t for t in tests)  # pick_words(None, 1) raised: dropped
    assert out.stats["dropped"]["raised"] == 1 and out.stats["labelled"] == len(tests) == 8
    # the labelled problem passes the ordinary checks
    (finding,) = check_problems([(1, out.problem)], sandbox, humaneval=False)
    assert finding.ok, finding.notes


def test_docstring_examples_must_agree_with_execution(sandbox):
    wrong = EXAMPLES.replace("['a']\n", "['b']\n")
    (out,) = label_replies([parse_labelled_reply(reply(SORTED, INPUTS, wrong))], sandbox, 3)
    assert out.problem is None and out.code == "example_mismatch"
    assert "execution gives ['a']" in out.note


def test_outputs_that_depend_on_the_hash_seed_are_refused(sandbox):
    unsorted = SORTED.replace("sorted(", "list(")
    (out,) = label_replies([parse_labelled_reply(reply(unsorted, INPUTS, EXAMPLES))], sandbox, 3)
    assert out.problem is None and out.code == "nondeterministic"
    assert "PYTHONHASHSEED" in out.note


def test_too_few_labelled_inputs_are_refused(sandbox):
    (out,) = label_replies([parse_labelled_reply(reply(SORTED, INPUTS, EXAMPLES))], sandbox, 20)
    assert out.code == "few_tests"


def test_a_docstring_without_examples_gets_them_from_execution(sandbox):
    (out,) = label_replies([parse_labelled_reply(reply(SORTED, INPUTS, ""))], sandbox, 3)
    assert out.code is None and out.stats["examples_added"] == 2
    doc = out.problem.prompt
    assert ">>> pick_words(['a', 'b', 'a'], 2)\n    ['a']\n" in doc
    assert ">>> pick_words(['y', 'x', 'y'])\n    ['x', 'y']\n" in doc
    assert doc in out.problem.solution.replace("    return sorted", "")  # same docstring in both


def test_pairs_of_input_and_expected_are_read_as_inputs():
    """Small models write (arguments, expected) or (*arguments, expected) despite the prompt."""
    fn = '```python\ndef add(a: int, b: int) -> int:\n    """Sum."""\n    return a + b\n```\n'
    pairs = fn + "```python\ntest_cases = [((1, 2), 3), ((0, 0), 0)]\n```\n"
    flat = fn + "```python\ntest_inputs = [(1, 2, 3), (0, 0, 0)]\n```\n"
    assert parse_labelled_reply(pairs).calls == ["add(1, 2)", "add(0, 0)"]
    assert parse_labelled_reply(flat).calls == ["add(1, 2)", "add(0, 0)"]
    one = '```python\ndef neg(x: int) -> int:\n    """Minus x."""\n    return -x\n```\n'
    one += "```python\ninputs = [(1, -1), (5, -5)]\n```\n"
    assert parse_labelled_reply(one).calls == ["neg(1)", "neg(5)"]


def test_inputs_inside_a_test_function_are_found_and_its_driver_is_dropped():
    text = (
        '```python\nexpected_outputs = [3, 0]\n\ndef add(a: int, b: int) -> int:\n    """Sum."""\n'
        "    return a + b\n\ndef test_add():\n    test_cases = [((1, 2), 3), ((0, 0), 0)]\n"
        "    for args, want in test_cases:\n        assert add(*args) == want\n"
        "    print(add(x, 1))\n\ntest_add()\nprint(add(7, 8))\n```\n"
    )
    r = parse_labelled_reply(text)
    assert r.calls == ["add(1, 2)", "add(0, 0)", "add(7, 8)"]  # add(x, 1) names a variable
    assert "expected_outputs" not in r.problem.prompt + r.problem.solution
    assert "test_add" not in r.problem.solution


def test_mutants_change_functions_not_module_level_data():
    src = "TABLE = [1, 2, 3]\n\ndef f(x):\n    return x + 1\n"
    assert all("TABLE = [1, 2, 3]" in m for _, m in mutants(src, "f", 8, "k"))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        -3,
        "it's",
        b"\x00",
        1.5,
        float("inf"),
        (1,),
        (),
        [1, (2, "x")],
        {"b": [1], "a": None},
        {3, 1, 2},
        set(),
        frozenset({"a"}),
    ],
)
def test_rendered_values_evaluate_back_to_themselves(value):
    assert eval(render(value)) == value  # noqa: S307 - our own rendering of test values
    assert type(eval(render(value))) is type(value)  # noqa: S307


def test_float_results_are_compared_with_a_tolerance():
    line = assertion("f(1)", 0.1 + 0.2)
    f = lambda _: 0.3  # noqa: E731 - another order of operations, off in the last bit
    exec(line, {"f": f})  # noqa: S102


def test_example_agreement_reads_literals_without_evaluating():
    assert example_agrees("[1, 2]", [1, 2]) and example_agrees("(1, 2)", [1, 2])
    assert example_agrees("0.333333", 1 / 3) and not example_agrees("3", 4)
    assert example_agrees("'abc'", "abc") and example_agrees("abc", "abc")
    assert not example_agrees("__import__('os').system('true')", 0)


def test_doc_examples_need_a_result_line():
    doc = ">>> f(1)\n2\n>>> f(2)\n\n>>> g(3)\n4\n"
    assert doc_examples(doc, "f") == [("f(1)", "2")]


def test_capture_jobs_bound_the_size_of_a_value(sandbox):
    p = Problem(prompt="def f(n):\n    'd'\n", tests="", entry_point="f")
    (v,) = label_many(
        sandbox, [label_job(p, "def f(n):\n    return 'x' * n\n", ["f(3)", "f(10**6)"])]
    )
    assert v.tests[0] == "passed" and v.values[0] == "xxx"
    assert v.tests[1] != "passed" and v.values[1] is None


def test_a_candidate_cannot_hand_back_a_rigged_object(sandbox):
    p = Problem(prompt="def f():\n    'd'\n", tests="", entry_point="f")
    sol = "class A:\n    def __eq__(self, o):\n        return True\n\ndef f():\n    return A()\n"
    (v,) = label_many(sandbox, [label_job(p, sol, ["f()"])])
    assert v.tests[0] != "passed"


# ---------------------------------------------------------------- adequacy
def _problem(tests: list[str], body: str, name="is_even") -> Problem:
    return Problem(
        prompt=f'def {name}(n: int) -> bool:\n    """Is n even?"""\n',
        tests="\n".join(tests) + "\n",
        solution=f'def {name}(n: int) -> bool:\n    """Is n even?"""\n    {body}\n',
        entry_point=name,
    )


def test_a_stub_that_passes_more_than_half_the_tests_is_flagged(sandbox):
    p = _problem(
        [f"assert is_even({n}) == {n % 2 == 0}" for n in (2, 4, 6, 1)], "return n % 2 == 0"
    )
    (f,) = check_problems([(1, p)], sandbox, humaneval=False)
    assert "weak_tests" in f.codes and f.adequacy["stub_max_share"] == 0.75
    (f,) = check_problems([(1, p)], sandbox, humaneval=False, adequacy=Adequacy(max_stub_share=0.8))
    assert "weak_tests" not in f.codes


def test_balanced_yes_no_tests_are_adequate(sandbox):
    """A constant True or False passes exactly half of balanced tests: that is allowed."""
    p = _problem(
        [f"assert is_even({n}) == {n % 2 == 0}" for n in (2, 4, 1, 3)], "return n % 2 == 0"
    )
    (f,) = check_problems([(1, p)], sandbox, humaneval=False)
    assert f.adequacy["stub_max_share"] == 0.5 and "weak_tests" not in f.codes, f.notes


def test_tests_that_kill_no_mutant_are_flagged(sandbox):
    body = "if n > 100:\n        return n % 4 == 0\n    return n % 2 == 0"
    tests = ["assert is_even(2) == True", "assert is_even(3) == False"]
    p = _problem(tests + ["assert is_even(8) == True", "assert is_even(7) == False"], body)
    (f,) = check_problems([(1, p)], sandbox, humaneval=False, adequacy=Adequacy(min_mutant_kill=1))
    assert f.adequacy["mutants"] >= 3
    assert f.adequacy["mutants_killed"] < f.adequacy["mutants"]  # n > 100 is never tried
    assert any("mutants of the reference" in n for n in f.notes)


def test_mutants_are_the_same_every_run_and_each_changes_the_code():
    src = "def f(xs):\n    if len(xs) > 2 and xs[0] < 3:\n        return xs[1] + 1\n    return 0\n"
    a, b = mutants(src, "f", 8, "k"), mutants(src, "f", 8, "k")
    assert a == b and len(a) >= 5
    assert all(m != src for _, m in a)
    assert {k for k, _ in a} >= {"flipped comparison", "off-by-one", "and/or swapped"}


def test_results_that_depend_on_string_hashing_are_nondeterministic(sandbox):
    p = Problem(
        prompt='def uniq(xs):\n    """Distinct words."""\n',
        tests="assert uniq(['b', 'a', 'c', 'a']) == ['a', 'c', 'b']\n"
        "assert uniq([]) == []\nassert uniq(['x']) == ['x']\n",
        solution='def uniq(xs):\n    """Distinct words."""\n    return list(set(xs))\n',
        entry_point="uniq",
    )
    results = {tuple(check_problems([(1, p)], sandbox, humaneval=False)[0].codes)}
    # under seed 0 the order is fixed; the second seed (1) orders these strings otherwise
    assert any("nondeterministic" in codes or "solution_fails" in codes for codes in results)


# ---------------------------------------------------------------- decontamination
def test_paraphrased_humaneval_problems_are_caught(sandbox):
    records = [p for _, p in load_records(f"{DATA}/paraphrased.jsonl", Problem)]
    evidence = decontaminate(records, sandbox)
    caught = [e for p, e in zip(records, evidence) if e.flagged]
    assert len(caught) >= 8
    right = [p.extra["paraphrase_of"] == e.nearest for p, e in zip(records, evidence) if e.flagged]
    assert all(right)


def test_genuinely_new_problems_are_rarely_flagged(sandbox):
    records = [p for _, p in load_records(f"{DATA}/novel.jsonl", Problem)]
    assert sum(e.flagged for e in decontaminate(records, sandbox)) <= 1
    assert sum(humaneval_overlap(p) is not None for p in records) <= 1


def test_the_old_word_ngram_check_misses_the_paraphrases():
    """Why the new measures exist: docstring 5-grams alone catch none of them."""
    records = [p for _, p in load_records(f"{DATA}/paraphrased.jsonl", Problem)]
    evidence = decontaminate(records)
    assert all(e.measures["docstring"] < 0.5 for e in evidence)


def test_check_writes_a_report_beside_the_file(tmp_path, capsys):
    from laimark.check import main

    path = tmp_path / "c.jsonl"
    path.write_text(open(f"{DATA}/paraphrased.jsonl").read())
    assert main([str(path)]) == 1
    report = json.loads((tmp_path / "c.jsonl.decontam.json").read_text())
    assert report["problems"] == 10 and report["flagged"] >= 8
    row = report["records"][0]
    assert row["nearest"] == "HumanEval/9" and row["flagged"] and row["reasons"]
    assert "humaneval_overlap" in capsys.readouterr().out


# ---------------------------------------------------------------- calibration
def test_the_posterior_cdf_is_the_beta_cdf():
    assert cal.beta_cdf(0.3, 0, 0) == pytest.approx(0.3)  # Beta(1, 1) is uniform
    # Beta(1, 5) after 0 of 4: 1 - (1 - x)^5
    assert cal.beta_cdf(0.2, 0, 4) == pytest.approx(1 - 0.8**5)
    # Beta(7, 3) after 6 of 8: P(p > 0.8) by the closed form of its CDF
    tail = 1 - cal.beta_cdf(0.8, 6, 8)
    exact = sum(math.comb(9, j) * 0.8**j * 0.2 ** (9 - j) for j in range(7))
    assert tail == pytest.approx(exact)


def test_credible_interval_and_window_probability():
    lo, hi = cal.credible_interval(0, 0)
    assert (lo, hi) == (pytest.approx(0.05, abs=1e-3), pytest.approx(0.95, abs=1e-3))
    lo, hi = cal.credible_interval(4, 8)
    assert lo < 0.5 < hi and lo == pytest.approx(1 - hi, abs=1e-3)
    config = cal.CalibrationConfig()
    assert cal.decide({"n_passed": 4, "samples": 8, "pass_rate": 0.5}, config)
    assert not cal.decide({"n_passed": 0, "samples": 4, "pass_rate": 0.0}, config)
    assert not cal.decide({"n_passed": 7, "samples": 8, "pass_rate": 0.875}, config)
    point = cal.CalibrationConfig(window_rule="point")
    assert cal.decide({"n_passed": 6, "samples": 8, "pass_rate": 0.75}, point)


class CountingSampler:
    """Answers a solve prompt with `passes[i]` right answers out of the n asked for, i = call."""

    def __init__(self, problem: Problem, passes: list[int]):
        self.problem, self.passes, self.asked = problem, list(passes), []

    def generate(self, prompts, n=1, **kw):
        self.asked.append((n, kw["seeds"][0]))
        k = self.passes.pop(0)
        right = self.problem.solution
        wrong = f"def {self.problem.entry_point}(n):\n    return None\n"
        return [[right] * k + [wrong] * (n - k)]


@pytest.mark.parametrize("passes, drawn", [([0], 4), ([4], 4), ([2, 3], 8), ([1, 0], 8)])
def test_sequential_calibration_stops_early_only_at_none_or_all(sandbox, passes, drawn):
    p = _problem([f"assert is_even({n}) == {n % 2 == 0}" for n in range(5)], "return n % 2 == 0")
    sampler = CountingSampler(p, passes)
    m = cal.measure(p, sampler, sandbox, cal.CalibrationConfig(), seed=0)
    assert m["samples"] == drawn and m["n_passed"] == sum(passes[: len(sampler.asked)])
    assert [n for n, _ in sampler.asked] == [4, 4][: len(sampler.asked)]
    assert len({s for _, s in sampler.asked}) == len(sampler.asked)  # a new seed for stage 2
    assert m["interval"] == cal.credible_interval(m["n_passed"], drawn)


def test_fixed_schedule_draws_all_samples_at_once(sandbox):
    p = _problem([f"assert is_even({n}) == {n % 2 == 0}" for n in range(5)], "return n % 2 == 0")
    sampler = CountingSampler(p, [0])
    m = cal.measure(p, sampler, sandbox, cal.CalibrationConfig(schedule="fixed"), seed=0)
    assert m["samples"] == 8 and sampler.asked[0][0] == 8


class SeededSampler:
    """Right or wrong by the sample's own seed only, like a real backend's per-item seeds."""

    def __init__(self, problems: list[Problem]):
        self.by_prompt, self.calls = {}, []
        for p in problems:
            prompt = task_type(p.problem_type).prompt(p, cal.CalibrationConfig().solve)
            self.by_prompt[json.dumps(prompt)] = p

    def generate(self, prompts, n=1, **kw):
        self.calls.append((len(prompts), n))
        out = []
        for prompt, seed in zip(prompts, kw["seeds"], strict=True):
            p = self.by_prompt[json.dumps(prompt)]
            wrong = f"def {p.entry_point}(n):\n    return None\n"
            out.append([p.solution if item_seed(seed, j) % 3 else wrong for j in range(n)])
        return out


def test_problems_measured_together_get_what_each_gets_alone(sandbox):
    problems = [
        _problem(
            [f"assert is_even({n}) == {n % 2 == 0}" for n in range(k, k + 5)], "return n % 2 == 0"
        )
        for k in range(6)
    ]
    alone = [
        cal.measure(p, SeededSampler(problems), sandbox, cal.CalibrationConfig(), 0)
        for p in problems
    ]
    sampler = SeededSampler(problems)
    together = cal.measure_many(problems, sampler, sandbox, cal.CalibrationConfig(), seed=0)
    drop = ("seconds", "tokens")
    assert [{k: v for k, v in m.items() if k not in drop} for m in together] == [
        {k: v for k, v in m.items() if k not in drop} for m in alone
    ]
    undecided = sum(m["samples"] == 8 for m in together)
    assert sampler.calls == [(6, 4), (undecided, 4)][: 1 + bool(undecided)]  # one call per stage


def test_heldout_split_is_stable_and_near_its_share():
    problems = [
        Problem(prompt=f"def f{i}():\n    'd'\n", tests="", entry_point=f"f{i}") for i in range(400)
    ]
    held = [p for p in problems if cal.is_heldout(p, 0.15)]
    assert 0.1 < len(held) / len(problems) < 0.2
    assert held == [p for p in problems if cal.is_heldout(p, 0.15)]
    assert not any(cal.is_heldout(p, 0.0) for p in problems)
    assert cal.heldout_path("data/x.jsonl") == "data/x.heldout.jsonl"


# ---------------------------------------------------------------- progress
def test_heartbeat_redraws_between_updates():
    import time

    from laimark.core.progress import Heartbeat

    class Bar:
        def __init__(self):
            self.posts = []

        def set_postfix(self, d, refresh=True):
            self.posts.append(d)

    bar, calls = Bar(), []
    with Heartbeat(bar, lambda: calls.append(1) or {"n": len(calls)}, every=0.05):
        time.sleep(0.3)
    assert len(bar.posts) >= 4 and bar.posts[-1]["n"] == len(calls)


def test_a_reply_cut_off_by_the_token_budget_keeps_the_inputs_before_the_cut():
    text = (
        '```python\ndef add(a: int, b: int) -> int:\n    """Sum."""\n    return a + b\n\n'
        "def test_add():\n    test_cases = [\n        ((1, 2), 3),\n        ((0, 0), 0),\n"
        "        ((5, -"
    )
    assert parse_labelled_reply(text).calls == ["add(1, 2)", "add(0, 0)"]
    # a closed block is not mended: its broken code stays out
    closed = text + "\n```\nThat is all.\n"
    with pytest.raises(ParseError):
        parse_labelled_reply(closed)


# ---------------------------------------------------------------- edge cases found in review
def test_a_documented_class_is_never_the_entry_point():
    text = (
        '```python\ndef helper(x: int) -> int:\n    """Double."""\n    return 2 * x\n\n'
        'class Counter:\n    """Counts things."""\n    def add(self, x):\n        return x\n\n'
        "test_inputs = [(1,), (2,)]\n```\n"
    )
    assert parse_labelled_reply(text).problem.entry_point == "helper"


def test_two_points_are_two_arguments_not_an_argument_and_a_result():
    text = (
        '```python\ndef manhattan(p: tuple, q: tuple) -> int:\n    """Distance."""\n'
        "    return abs(p[0] - q[0]) + abs(p[1] - q[1])\n```\n"
        "```python\ntest_inputs = [((1, 2), (3, 4)), ((0, 0), (5, 5))]\n```\n"
    )
    assert parse_labelled_reply(text).calls == [
        "manhattan((1, 2), (3, 4))",
        "manhattan((0, 0), (5, 5))",
    ]


def test_a_function_cut_short_is_not_mended_into_a_reference():
    text = (
        "```python\ntest_inputs = [(1,), (2,)]\n\ndef f(x: int) -> int:\n"
        '    """Double, then add."""\n    y = 2 * x\n    return y + (1'
    )
    with pytest.raises(ParseError):
        parse_labelled_reply(text)


def test_constants_the_kept_constants_use_are_kept():
    text = (
        "```python\nMOD = 10**9 + 7\nLIMIT = MOD - 1\nEXPECTED = [1, 2]\n\n"
        'def f(x: int) -> int:\n    """Mod it."""\n    return x % LIMIT\n```\n'
        "```python\ntest_inputs = [(1,), (2,)]\n```\n"
    )
    prompt = parse_labelled_reply(text).problem.prompt
    assert "MOD = " in prompt and "LIMIT = " in prompt and "EXPECTED" not in prompt


@pytest.mark.parametrize("doc", ['"""Return π·x."""', '"""Doublé\n    é"""', '"Return x."'])
def test_examples_go_into_any_triple_quoted_docstring(doc):
    from laimark.curriculum.label import with_examples

    src = f"def f(x):\n    {doc}\n"
    p = Problem(prompt=src, tests="", solution=src + "    return 1\n", entry_point="f")
    q = with_examples(p, [("f(1)", "2")])
    compile(q.solution, "q", "exec")
    assert (">>> f(1)" in q.prompt) == doc.startswith('"""')


def test_docstring_examples_through_print_and_continuation_lines():
    doc = "Sum.\n\n>>> print(f([1, 2]))\n3\n>>> f([1, 2,\n...    3])\n6\n"
    assert doc_examples(doc, "f") == [("f([1, 2])", "3"), ("f([1, 2, 3])", "6")]


def test_nan_results_are_not_taken_for_hash_seed_dependence():
    from laimark.curriculum.label import same

    assert same(float("nan"), float("nan")) and not same(1, True)


def test_fewer_than_four_samples_are_drawn_at_once(sandbox):
    config = cal.CalibrationConfig(n_samples=2)
    assert config.schedule == "sequential"
    # with n = 2 a first stage of 1 would always stop: both samples are drawn
    from scripted import ScriptedSampler

    p = Problem(prompt='def f(x):\n    """x."""\n', tests="assert f(1) == 1\n", entry_point="f")
    sampler = ScriptedSampler(
        solve={"f": ("def f(x):\n    return x\n", "def f(x):\n    return 0\n", 1)}
    )
    m = cal.measure(p, sampler, sandbox, config, seed=0)
    assert m["samples"] == 2 and m["n_passed"] == 1
