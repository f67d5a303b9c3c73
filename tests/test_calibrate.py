"""laimark-calibrate: pass rates through the shared prompt and harness, the window, the side file,
resume, the histogram and the sidecar. The model is scripted (tests/scripted.py) or the tiny one."""

import json
from pathlib import Path

import pytest
from scripted import ScriptedSampler, kill_then_resume

import laimark.models.sampling
from laimark.calibrate_problems import main
from laimark.core.records import CalibratedProblem, Problem, load_records, write_jsonl_atomic
from laimark.core.solve import SolveFormat

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def problem(name: str, doc: str, body: str, cases: list[tuple[str, str]]) -> Problem:
    return Problem(
        prompt=f'def {name}(x):\n    """{doc}"""\n',
        tests="\n".join(f"assert {name}({a}) == {b}" for a, b in cases),
        entry_point=name,
        solution=f"def {name}(x):\n    {body}\n",
        topic="t",
    )


PROBLEMS = [  # name, correct body, and how many of 8 samples the scripted policy gets right
    (problem("add_one", "Add one to x.", "return x + 1", [("1", "2"), ("0", "1")]), 8),
    (problem("neg", "Negate x.", "return -x", [("1", "-1"), ("-2", "2")]), 4),
    (problem("square", "Square x.", "return x * x", [("3", "9"), ("0", "0")]), 0),
    (problem("half", "Integer half of x.", "return x // 2", [("4", "2"), ("5", "2")]), 2),
    (problem("cube", "Cube x.", "return x ** 3", [("2", "8"), ("1", "1")]), 7),
]


def scripted(delay=0.0):
    solve = {
        p.entry_point: (p.solution, f"def {p.entry_point}(x):\n    return None\n", k)
        for p, k in PROBLEMS
    }
    return ScriptedSampler(solve=solve, delay=delay)


@pytest.fixture
def candidates(tmp_path):
    path = tmp_path / "cand.jsonl"
    write_jsonl_atomic(path, [p for p, _ in PROBLEMS])
    return path


# The paper's protocol (fixed K, point rule, no held-out split): the scripted pass counts above are
# per 8 samples. Sequential sampling and the posterior rule are tested in test_curriculum_quality.
PAPER = ["--schedule", "fixed", "--window_rule", "point", "--heldout_share", "0"]


def run(tmp_path, monkeypatch, sampler, inp, *extra, out="cal.jsonl"):
    monkeypatch.setattr(laimark.models.sampling, "sampler_for", lambda config: sampler)
    out = tmp_path / out
    args = ["--input", str(inp), "--output", str(out), "--workers", "2", *PAPER, *extra]
    return main(args), out


@pytest.fixture
def full_run(tmp_path, monkeypatch, candidates):
    sampler = scripted()
    code, out = run(tmp_path, monkeypatch, sampler, candidates)
    return code, out, sampler


def test_keeps_the_problems_inside_the_window(full_run):
    code, out, _ = full_run
    assert code == 0
    kept = [p for _, p in load_records(out, CalibratedProblem)]
    assert [(p.entry_point, p.n_passed, p.pass_rate) for p in kept] == [
        ("neg", 4, 0.5),
        ("half", 2, 0.25),
    ]
    assert kept[0].samples == 8 and kept[0].learnability_zone is True
    assert kept[0].extra["calibration"]["prompt_version"] == "solve-v1"


def test_samples_with_the_shared_solve_prompt(full_run):
    _, _, sampler = full_run
    assert sampler.prompts == [SolveFormat().prompt(p.prompt) for p, _ in PROBLEMS]


def test_every_measurement_goes_to_the_side_file(full_run):
    _, out, _ = full_run
    measured = [json.loads(line) for line in open(str(out) + ".measured.jsonl")]
    assert [m["n_passed"] for m in measured] == [k for _, k in PROBLEMS]
    assert measured[2]["reasons"] == ["assertion"] * 8 and len(measured[0]["completions"]) == 8


def test_meta_counts_and_histogram(full_run):
    _, out, _ = full_run
    meta = json.loads(Path(str(out) + ".meta.json").read_text())
    c = meta["counts"]
    assert (c["measured"], c["in_window"], c["too_hard"], c["too_easy"]) == (5, 2, 1, 2)
    assert c["n_passed_histogram"] == {"0/8": 1, "2/8": 1, "4/8": 1, "7/8": 1, "8/8": 1}
    assert meta["model"]["name"] == "scripted" and meta["config"]["window"]["n_samples"] == 8
    assert Path(meta["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_keep_all_marks_the_zone(tmp_path, monkeypatch, candidates):
    code, out = run(tmp_path, monkeypatch, scripted(), candidates, "--keep_all")
    zones = [p.learnability_zone for _, p in load_records(out, CalibratedProblem)]
    assert code == 0 and zones == [False, True, False, True, False]


def test_duplicates_and_humaneval_copies_are_dropped_and_reported(tmp_path, monkeypatch):
    from laimark.evaluation.humaneval import load_humaneval

    he = load_humaneval()[0]
    copied = Problem(prompt=he.prompt, tests="assert True", entry_point=he.entry_point)
    path = tmp_path / "in.jsonl"
    write_jsonl_atomic(path, [PROBLEMS[1][0], copied, PROBLEMS[1][0], PROBLEMS[3][0]])
    code, out = run(tmp_path, monkeypatch, scripted(), path)
    meta = json.loads(Path(str(out) + ".meta.json").read_text())
    assert code == 0 and meta["counts"]["measured"] == 2
    assert [(d["line"], d["reason"]) for d in meta["dropped"]] == [
        (2, "humaneval_overlap"),
        (3, "duplicate"),
    ]


def test_funnel_continues_the_generation_funnel(tmp_path, monkeypatch, candidates):
    Path(str(candidates) + ".meta.json").write_text(json.dumps({"funnel": {"generated": 9}}))
    _, out = run(tmp_path, monkeypatch, scripted(), candidates)
    funnel = json.loads(Path(str(out) + ".meta.json").read_text())["funnel"]
    assert funnel == {"generated": 9, "input": 5, "measured": 5, "in_window": 2}


# ---------------------------------------------------------------- resume
def test_resume_samples_only_what_is_not_measured(tmp_path, monkeypatch, candidates, full_run):
    _, reference, _ = full_run
    code, out = run(tmp_path, monkeypatch, scripted(), candidates, out="b.jsonl")
    side = Path(str(out) + ".measured.jsonl")
    lines = side.read_bytes().split(b"\n")
    side.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:50])  # torn 4th measurement
    out.unlink()
    sampler = scripted()
    code, out = run(tmp_path, monkeypatch, sampler, candidates, "--resume", out="b.jsonl")
    assert code == 0 and out.read_bytes() == reference.read_bytes()
    assert len(sampler.prompts) == 2  # problems 4 and 5


def test_kill_9_then_resume_gives_the_same_output(tmp_path, candidates, full_run):
    _, reference, _ = full_run
    solve = {
        p.entry_point: [p.solution, f"def {p.entry_point}(x):\n    return None\n", k]
        for p, k in PROBLEMS
    }
    out = tmp_path / "killed.jsonl"
    # Chunks of 2 problems (each chunk's measurements are stored when it ends): 3 chunks to kill in.
    argv = ["--input", str(candidates), "--output", str(out), "--workers", "2", *PAPER]
    argv += ["--batch_size", "2"]
    side = Path(str(out) + ".measured.jsonl")
    script = {"solve": solve, "delay": 0.5}
    killed_at, done = kill_then_resume(
        script, tmp_path, "laimark.calibrate_problems", argv, side, 2
    )
    assert killed_at < 5, "the run finished before it was killed"
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == reference.read_bytes()


def test_resume_refuses_measurements_from_other_settings(
    tmp_path, monkeypatch, candidates, full_run, capsys
):
    code, _ = run(tmp_path, monkeypatch, scripted(), candidates, "--resume", "--samples", "4")
    assert code == 2 and "other settings" in capsys.readouterr().err


# ---------------------------------------------------------------- input and usage errors
def test_bad_input_names_file_line_and_field(tmp_path, monkeypatch, capsys):
    path = tmp_path / "in.jsonl"
    path.write_text('{"prompt": "def f():\\n", "tests": 3, "entry_point": "f"}\n')
    code, _ = run(tmp_path, monkeypatch, scripted(), path)
    assert code == 2 and f"{path}:1: field 'tests'" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--lo", "0.9", "--hi", "0.1"], ["--samples", "0"]])
def test_bad_window_exits_2(tmp_path, monkeypatch, candidates, flags):
    assert run(tmp_path, monkeypatch, scripted(), candidates, *flags)[0] == 2


# ---------------------------------------------------------------- the real sampler, tiny model
def test_tiny_model_end_to_end_and_resume_without_resampling(tmp_path, tiny_model_dir):
    args = [
        "--model",
        str(tiny_model_dir),
        "--dtype",
        "fp32",
        "--device",
        "cpu",
        "--input",
        str(ROOT / "data/examples/candidates.jsonl"),
        "--output",
        str(tmp_path / "cal.jsonl"),
        "--samples",
        "2",
        "--max_new_tokens",
        "16",
        "--workers",
        "1",
        "--keep_all",
    ]
    assert main(args) == 1  # random weights solve nothing: no problem in the window
    out = tmp_path / "cal.jsonl"
    first = out.read_bytes()
    rates = [p.pass_rate for _, p in load_records(out, CalibratedProblem)]
    assert rates == [0.0, 0.0, 0.0]
    side = Path(str(out) + ".measured.jsonl")
    before = side.read_bytes()
    assert main(args + ["--resume"]) == 1
    assert side.read_bytes() == before and out.read_bytes() == first
