"""laimark-generate: parsing replies, the filters (real sandbox and harness), resume, the CLI.

The model is scripted (tests/scripted.py) where a test needs particular replies; the tiny random
model runs the real sampling path end to end.
"""

import json
from pathlib import Path

import pytest
from scripted import BAD, GOOD, ScriptedSampler, fresh_seed, kill_then_resume

import laimark.models.sampling
from laimark.core.records import Problem, load_records
from laimark.curriculum.parse import ParseError, parse_reply
from laimark.execution.harness import judge
from laimark.generate_problems import main

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


# The scripted replies are written in the prompt-and-asserts mode; the labelled mode is tested with
# scripted replies of its own in test_curriculum_quality.
ASSERTS = ["--mode", "asserts"]


def run(tmp_path, monkeypatch, sampler, *extra):
    monkeypatch.setattr(laimark.models.sampling, "sampler_for", lambda config: sampler)
    out = tmp_path / "cand.jsonl"
    code = main(
        [
            "--output",
            str(out),
            "--round_size",
            "4",
            "--workers",
            "2",
            "--seed",
            "0",
            *ASSERTS,
            *extra,
        ]
    )
    return code, out


def meta_of(path) -> dict:
    return json.loads(Path(str(path) + ".meta.json").read_text())


# ---------------------------------------------------------------- parsing
def test_parse_fenced_reply_gives_prompt_tests_solution():
    p = parse_reply(GOOD["triple_sum"])
    assert p.entry_point == "triple_sum"
    assert p.prompt.startswith("def triple_sum(x):\n") and p.prompt.endswith('    """\n')
    assert "return 3 * sum(x)" in p.solution and "return" not in p.prompt
    assert p.tests.count("assert") == 6


def test_parse_unfenced_reply_skips_the_prose():
    p = parse_reply(GOOD["reverse_words"])
    assert p.entry_point == "reverse_words" and "Here is" not in p.solution + p.tests


def test_parse_drops_think_and_keeps_multiline_assert_whole():
    p = parse_reply(GOOD["triple_sum_think"])
    assert "broken" not in p.solution
    assert "assert triple_sum(\n    [5]\n) == 15" in p.tests


def test_parse_check_candidate_and_stub_then_implementation():
    text = (
        '```python\ndef f(x):\n    """Double x."""\n```\nThen:\n```python\ndef f(x):\n'
        "    return 2 * x\n\ndef check(candidate):\n    assert candidate(1) == 2\n"
        "    assert candidate(0) == 0\n```"
    )
    p = parse_reply(text)
    assert p.prompt == 'def f(x):\n    """Double x."""\n'
    assert p.tests == "assert f(1) == 2\nassert f(0) == 0\n"
    assert "return 2 * x" in p.solution


def test_parse_truncated_reply_keeps_what_parses():
    cut = GOOD["digit_product"] + "\n```python\ndef unfinished(a, b):\n    return [a,"
    assert parse_reply(cut).entry_point == "digit_product"


def test_parse_constants_go_into_the_prompt_for_the_tests():
    text = (
        '```python\nLIMIT = 3\n\ndef clip(x):\n    """Clip x at LIMIT."""\n    return '
        "min(x, LIMIT)\n\nassert clip(5) == LIMIT\nassert clip(1) == 1\n```"
    )
    p = parse_reply(text)
    assert p.prompt.startswith("LIMIT = 3\n")
    problem = Problem(prompt=p.prompt, tests=p.tests, entry_point=p.entry_point)
    assert judge_solution(problem, p.solution).passed


def judge_solution(problem, solution):
    from laimark.execution.sandbox import Sandbox

    with Sandbox(workers=1) as sandbox:
        return judge(sandbox, problem, solution, mode="function")


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (BAD["malformed"], "no_code"),
        (BAD["no_docstring"], "no_docstring"),
        (
            "```python\ndef f(x):\n    '''Doc.'''\n```\n```python\nassert f(1) == 1\n```",
            "no_solution",
        ),
        ("```python\ndef f(x):\n    '''Doc.'''\n    return x\n```", "no_tests"),
        ("```python\nassert 1 == 1\n```", "no_function"),
        ("```python\ndef f(x):\n    '''Doc.'''\n    return x\n\nassert g(1) == 1\n```", "no_tests"),
    ],
)
def test_parse_rejects_with_a_reason(reply, code):
    with pytest.raises(ParseError) as e:
        parse_reply(reply)
    assert e.value.code == code


# ---------------------------------------------------------------- filters, end to end
REPLIES = [
    GOOD["triple_sum"],
    BAD["malformed"],
    BAD["wrong_solution"],
    BAD["vacuous"],
    BAD["clock"],
    BAD["humaneval_copy"],
    GOOD["triple_sum_think"],
    GOOD["count_capitals"],
    GOOD["reverse_words"],
    BAD["no_docstring"],
    GOOD["digit_product"],
]
EXPECTED = [
    (None, None),
    ("parse", "no_code"),
    ("verify", "solution_fails"),
    ("verify", "vacuous"),
    ("verify", "nondeterministic_api"),
    ("clean", "humaneval_overlap"),
    ("unique", "duplicate"),
    (None, None),
    (None, None),
    ("parse", "no_docstring"),
    (None, None),
]


def scripted(delay=0.0, seed=0):
    return ScriptedSampler({fresh_seed(seed, i): r for i, r in enumerate(REPLIES)}, delay=delay)


@pytest.fixture
def full_run(tmp_path, monkeypatch):
    code, out = run(tmp_path, monkeypatch, scripted(), "--count", "4", "--max_attempts", "12")
    return code, out


def test_every_reply_gets_its_stage_and_reason(full_run):
    code, out = full_run
    assert code == 0
    rounds = [json.loads(line) for line in open(str(out) + ".journal.jsonl")]
    results = [r for line in rounds for r in line["attempts"]][: len(REPLIES)]
    assert [(r["stage"], r["reason"]) for r in results] == EXPECTED


def test_output_holds_the_accepted_problems_with_provenance(full_run):
    _, out = full_run
    problems = [p for _, p in load_records(out, Problem)]
    assert [p.entry_point for p in problems] == [
        "triple_sum",
        "count_capitals",
        "reverse_words",
        "digit_product",
    ]
    gen = problems[0].extra["generation"]
    assert gen["model"] == "scripted" and gen["prompt_version"] == "generate-v2"
    assert gen["seed"] == fresh_seed(0, 0) and gen["attempt"] == 0
    assert problems[0].source == "generated by scripted" and problems[0].topic


def test_meta_has_the_funnel_and_rejection_counts(full_run):
    _, out = full_run
    meta = meta_of(out)
    assert meta["funnel"] == {"generated": 12, "parsed": 9, "verified": 6, "unique": 5, "clean": 4}
    counts = meta["counts"]
    assert counts["rejected_by"]["humaneval_overlap"] == 1 and counts["rejected_by"]["no_code"] == 2
    assert counts["complete"] and counts["written"] == 4 and meta["model"]["name"] == "scripted"


def test_keep_humaneval_overlap_reports_but_keeps(tmp_path, monkeypatch):
    sampler = ScriptedSampler({fresh_seed(0, 0): BAD["humaneval_copy"]})
    code, out = run(tmp_path, monkeypatch, sampler, "--count", "1", "--keep_humaneval_overlap")
    assert code == 0
    assert meta_of(out)["counts"]["failed_checks"] == {"humaneval_overlap": 1, "no_code": 3}


def test_parse_check_named_test_function_but_not_a_check_named_problem():
    text = (
        '```python\ndef check_even(n: int) -> bool:\n    """True if n is even."""\n'
        "    return n % 2 == 0\n\ndef check_check_even():\n    assert check_even(2)\n"
        "    assert not check_even(3)\n```"
    )
    p = parse_reply(text)
    assert p.entry_point == "check_even" and p.tests.count("assert") == 2


# ---------------------------------------------------------------- resume
def test_resume_after_a_torn_journal_line_gives_the_same_output(tmp_path, monkeypatch, full_run):
    _, reference = full_run
    code, out = run(tmp_path / "b", monkeypatch, scripted(), "--count", "4", "--max_attempts", "8")
    journal = Path(str(out) + ".journal.jsonl")
    data = journal.read_bytes()
    journal.write_bytes(data[: len(data) - 40])  # kill -9 while writing the second round
    out.unlink()
    sampler = scripted()
    code, out = run(
        tmp_path / "b", monkeypatch, sampler, "--count", "4", "--max_attempts", "12", "--resume"
    )
    assert code == 0 and out.read_bytes() == reference.read_bytes()
    assert len(sampler.calls) == 8  # rounds 2 and 3 only: round 1 was not sampled again


def test_kill_9_mid_run_then_resume_gives_the_same_output(tmp_path, full_run):
    _, reference = full_run
    script = {"replies": {fresh_seed(0, i): r for i, r in enumerate(REPLIES)}, "delay": 0.4}
    out = tmp_path / "killed" / "cand.jsonl"
    argv = [
        *ASSERTS,
        "--output",
        str(out),
        "--round_size",
        "4",
        "--workers",
        "2",
        "--count",
        "4",
        "--seed",
        "0",
    ]
    journal = Path(str(out) + ".journal.jsonl")
    argv += ["--max_attempts", "12"]
    killed_at, done = kill_then_resume(
        script, tmp_path, "laimark.generate_problems", argv, journal, 1
    )
    assert killed_at < 3, "the run finished before it was killed"
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == reference.read_bytes()


def test_resume_refuses_a_journal_from_other_settings(tmp_path, monkeypatch, full_run, capsys):
    _, out = full_run
    monkeypatch.setattr(laimark.models.sampling, "sampler_for", lambda config: scripted())
    code = main(
        [
            "--output",
            str(out),
            "--round_size",
            "4",
            "--count",
            "5",
            "--resume",
            "--temperature",
            "0.3",
        ]
    )
    assert code == 2 and "other settings" in capsys.readouterr().err


def test_existing_output_without_resume_is_a_usage_error(full_run, monkeypatch, capsys):
    _, out = full_run
    monkeypatch.setattr(laimark.models.sampling, "sampler_for", lambda config: scripted())
    assert main(["--output", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags", [["--count", "0"], ["--top_p", "0"], ["--topics"], ["--jaccard_threshold", "1.5"]]
)
def test_bad_flags_exit_2(tmp_path, flags):
    try:
        code = main(["--output", str(tmp_path / "x.jsonl"), *flags])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 2


# ---------------------------------------------------------------- the real sampler, tiny model
def test_tiny_model_end_to_end(tmp_path, tiny_model_dir):
    out = tmp_path / "cand.jsonl"
    code = main(
        [
            "--model",
            str(tiny_model_dir),
            "--dtype",
            "fp32",
            "--device",
            "cpu",
            "--output",
            str(out),
            "--count",
            "1",
            "--max_attempts",
            "2",
            "--round_size",
            "2",
            "--max_new_tokens",
            "24",
            "--workers",
            "1",
        ]
    )
    assert code == 1  # random weights write no problem
    meta = meta_of(out)
    counts = meta["counts"]
    assert meta["funnel"]["generated"] == 2 and counts["written"] == 0 and not counts["complete"]
    assert meta["model"]["kind"] == "folder" and counts["tokens_generated"] > 0
    assert out.read_text() == ""


def test_exclude_names_are_never_accepted(tmp_path, monkeypatch):
    names = tmp_path / "names.txt"
    names.write_text("# from round 1\ntriple_sum\n\n")
    code, out = run(
        tmp_path, monkeypatch, scripted(), "--count", "3", "--max_attempts", "12",
        "--exclude_names", str(names),
    )  # fmt: skip
    accepted = [p.entry_point for _, p in load_records(out, Problem)]
    assert code == 0 and "triple_sum" not in accepted and len(accepted) == 3
    rounds = [json.loads(line) for line in open(str(out) + ".journal.jsonl")]
    first = rounds[0]["attempts"][0]
    assert first["reason"] == "duplicate" and "--exclude_names" in " ".join(first["notes"])


def test_exclude_names_file_must_exist(tmp_path, monkeypatch, capsys):
    code, _ = run(tmp_path, monkeypatch, scripted(), "--exclude_names", str(tmp_path / "no.txt"))
    assert code == 2 and "--exclude_names" in capsys.readouterr().err
