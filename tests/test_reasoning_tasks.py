"""Deduction and abduction task types (laimark.tasks.reasoning): derivation from verified problems
and the judges on right, wrong, unparseable and hostile answers, in the real sandbox."""

from __future__ import annotations

import pytest

from laimark.core.records import Problem, load_records
from laimark.core.solve import SolveFormat
from laimark.execution.sandbox import Sandbox
from laimark.tasks.reasoning import (
    AbductionTask,
    DeductionTask,
    answer_text,
    derive_items,
    literal_call,
)

FMT = SolveFormat()
TYPES = {"deduction": DeductionTask(), "abduction": AbductionTask()}


def task_type(kind):
    return TYPES[kind]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as sb:
        yield sb


@pytest.fixture(scope="module")
def items(sandbox):
    problems = [p for _, p in load_records("data/examples/calibrated.jsonl", Problem)]
    return derive_items(problems, sandbox, per_problem=2)


def first(items, kind):
    return next(i for i in items if i.problem_type == kind)


def test_items_of_both_types_come_from_execution(items):
    kinds = [i.problem_type for i in items]
    assert kinds.count("deduction") == kinds.count("abduction") > 0
    d = first(items, "deduction")
    assert set(d.extra) >= {"dd_code", "dd_func_name", "dd_input", "dd_expected"}
    assert d.extra["source_entry_point"] == d.extra["dd_func_name"]
    # written back in the original's shape: no tests or entry_point added
    row = d.to_dict()
    assert row["problem_type"] == "deduction" and "tests" not in row and "entry_point" not in row


def test_deduction_judge(sandbox, items):
    d = first(items, "deduction")
    right = d.extra["dd_expected"]
    answers = [right, f"```python\n{right}\n```", "<think>hmm</think>" + right, "12345", "no idea"]
    verdicts = task_type("deduction").judge(sandbox, [(d, a) for a in answers], FMT)
    assert [v.passed for v in verdicts] == [True, True, True, False, False]
    assert verdicts[4].reason == "syntax_error"
    assert task_type("deduction").reward(verdicts[0]) == 1.0


def test_abduction_judge(sandbox, items):
    a = first(items, "abduction")
    d = first(items, "deduction")  # derived from the same call: its input is one answer
    answers = [d.extra["dd_input"], "1, 2, 3, 4, 5, 6", "what?"]
    verdicts = task_type("abduction").judge(sandbox, [(a, x) for x in answers], FMT)
    assert [v.passed for v in verdicts] == [True, False, False]
    assert verdicts[2].reason == "syntax_error"


@pytest.mark.parametrize(
    "answer",
    [
        "__import__('os').system('touch /tmp/laimark-pwned')",
        "open('/etc/passwd').read()",
        "(lambda: 1)()",
        "[x for x in range(10**9)]",
    ],
)
def test_answers_that_are_code_fail_and_never_run(sandbox, items, answer, tmp_path):
    for kind in ("deduction", "abduction"):
        (v,) = task_type(kind).judge(sandbox, [(first(items, kind), answer)], FMT)
        assert not v.passed and v.reason == "syntax_error", (kind, v)


def test_original_shaped_records_are_judged():
    row = {
        "prompt": "What is f(2)?",
        "problem_type": "deduction",
        "dd_code": "def f(x):\n    return x * 3\n",
        "dd_func_name": "f",
        "dd_input": "2",
        "dd_expected": "6",
        "source_entry_point": "f",
        "source_pass_rate": 0.5,
    }
    p = Problem.from_dict(row)
    assert p.to_dict() == row
    with Sandbox(workers=1) as sb:
        (v,) = task_type("deduction").judge(sb, [(p, "6")], FMT)
    assert v.passed


def test_answer_reading():
    assert answer_text("Answer: `[1, 2]`") == "[1, 2]"
    assert literal_call("f", "1, [2], 'x'") == "f(1, [2], 'x')"
    with pytest.raises(ValueError):
        literal_call("f", "1, *xs")
    with pytest.raises(ValueError):
        literal_call("f", "g(1)")


def test_derive_command_then_calibration_measures_the_items(tmp_path, monkeypatch, capsys):
    """laimark-derive writes the items; laimark-calibrate measures them by their own types."""
    import json

    from scripted import ScriptedSampler

    import laimark.models.sampling
    from laimark import calibrate_problems
    from laimark.generate_deduction_abduction import main as derive_main

    items = tmp_path / "items.jsonl"
    argv = ["--input", "data/examples/calibrated.jsonl", "--output", str(items)]
    assert derive_main([*argv, "--max_per_problem", "1"]) == 0
    out_text = capsys.readouterr().out
    assert "6 records (0 code, 3 deduction, 3 abduction) from 3 code problems" in out_text
    rows = [json.loads(line) for line in items.read_text().splitlines()]
    assert json.loads((tmp_path / "items.jsonl.meta.json").read_text())["counts"]["items"] == 6
    # every answer is '' : right for a deduction whose output is '', wrong elsewhere
    sampler = ScriptedSampler(default="''")
    monkeypatch.setattr(laimark.models.sampling, "sampler_for", lambda config: sampler)
    out = tmp_path / "cal.jsonl"
    flags = ["--samples", "2", "--schedule", "fixed", "--heldout_share", "0", "--keep_all"]
    calibrate_problems.main(["--input", str(items), "--output", str(out), "--workers", "2", *flags])
    cal = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(cal) == len(rows) and [c["problem_type"] for c in cal] == [
        r["problem_type"] for r in rows
    ]
    for c in cal:
        right = c["problem_type"] == "deduction" and c["dd_expected"] == "''"
        assert c["pass_rate"] == (1.0 if right else c["pass_rate"])
    assert any(c["problem_type"] == "deduction" and c["pass_rate"] == 1.0 for c in cal)


def test_the_type_mix_guard(items, tmp_path, capsys, caplog):
    from laimark import check
    from laimark.core.records import write_jsonl_atomic
    from laimark.tasks import mix_warning, type_mix

    code = [p for _, p in load_records("data/examples/calibrated.jsonl", Problem)]
    abduction = [i for i in items if i.problem_type == "abduction"]
    assert mix_warning(type_mix(code)) is None  # code alone is the ordinary case
    balanced = code + abduction[:3]
    assert type_mix(balanced) == {"code": 0.5, "abduction": 0.5}
    assert mix_warning(type_mix(balanced)) is None
    heavy = code[:1] + abduction * 2
    warning = mix_warning(type_mix(heavy))
    assert warning.startswith("92% of the curriculum is abduction") and "61.0%" in warning
    path = tmp_path / "heavy.jsonl"
    write_jsonl_atomic(path, heavy)
    check.main([str(path), "--no_humaneval", "--workers", "1"])
    assert "type mix: abduction 92%, code 8%" in capsys.readouterr().out
    assert "section 5.2" in caplog.text


def test_the_example_items_file_is_what_laimark_derive_makes(tmp_path, sandbox):
    from laimark.generate_deduction_abduction import main as derive_main

    out = tmp_path / "items.jsonl"
    args = ["--input", "data/examples/calibrated.jsonl", "--output", str(out)]
    assert derive_main([*args, "--max_per_problem", "1"]) == 0
    shipped = "data/examples/deduction_abduction.jsonl"
    assert out.read_text() == open(shipped).read()
    items = [p for _, p in load_records(shipped, Problem)]
    deductions = [(p, p.extra["dd_expected"]) for p in items if p.problem_type == "deduction"]
    assert all(v.passed for v in task_type("deduction").judge(sandbox, deductions, FMT))


def test_type_mix_sets_the_share_of_each_type(tmp_path, capsys):
    import json

    from laimark.generate_deduction_abduction import main as derive_main

    out = tmp_path / "mix.jsonl"
    args = ["--input", "data/examples/calibrated.jsonl", "--output", str(out)]
    # 3 code problems, 6 items of each type at 2 per problem: code is the scarcest at 0.5
    assert (
        derive_main([*args, "--max_per_problem", "2", "--type_mix", "code=0.5,abduction=0.5"]) == 0
    )
    kinds = [json.loads(line)["problem_type"] for line in out.read_text().splitlines()]
    assert kinds == ["code"] * 3 + ["abduction"] * 3
    capsys.readouterr()
    for bad in ("code=0.5,abduction=0.6", "code=1,riddle=0", "code=x"):
        assert derive_main([*args, "--type_mix", bad]) == 2
        assert "--type_mix" in capsys.readouterr().err
