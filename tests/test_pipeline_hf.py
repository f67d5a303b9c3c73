"""generate_and_calibrate_hf: generate, filter and calibrate in one process; harder variants;
resume. The model is scripted (tests/scripted.py) or the tiny random one."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scripted import BAD, GOOD, ScriptedSampler, fresh_seed

import laimark.models.sampling
from laimark.core.records import CalibratedProblem, Problem, load_records
from laimark.core.seeds import item_seed
from laimark.curriculum.parse import parse_reply
from laimark.generate_and_calibrate_hf import main

ROOT = Path(__file__).resolve().parent.parent


def key_of(reply: str) -> str:
    p = parse_reply(reply)
    return Problem(prompt=p.prompt, tests=p.tests, entry_point=p.entry_point).key()


def solution(reply: str) -> str:
    return parse_reply(reply).solution


def scripted():
    """triple_sum is too easy (8/8) and gets a harder variant (count_capitals, 4/8);
    reverse_words lands in the window (4/8)."""
    replies = {
        fresh_seed(0, 0): GOOD["triple_sum"],
        fresh_seed(0, 1): BAD["malformed"],
        fresh_seed(0, 2): GOOD["reverse_words"],
        item_seed(0, "variant", key_of(GOOD["triple_sum"])): GOOD["count_capitals"],
    }
    wrong = "def nothing(x):\n    return None\n"
    solve = {
        "triple_sum": (solution(GOOD["triple_sum"]), wrong, 8),
        "count_capitals": (solution(GOOD["count_capitals"]), wrong, 4),
        "reverse_words": (solution(GOOD["reverse_words"]), wrong, 4),
    }
    return ScriptedSampler(replies, solve)


# Scripted asserts-mode replies and pass counts per 8 samples: the paper's protocol throughout.
PAPER = [
    "--mode",
    "asserts",
    "--schedule",
    "fixed",
    "--window_rule",
    "point",
    "--heldout_share",
    "0",
]


def run(tmp_path, monkeypatch, sampler, *extra):
    monkeypatch.setattr(laimark.models.sampling, "sampler_for", lambda config: sampler)
    out = tmp_path / "cal.jsonl"
    code = main(
        [
            "--output",
            str(out),
            "--round_size",
            "2",
            "--workers",
            "2",
            "--target",
            "2",
            "--harder_variants",
            "--seed",
            "0",
            *PAPER,
            *extra,
        ]
    )
    return code, out


@pytest.fixture
def full_run(tmp_path, monkeypatch):
    return run(tmp_path, monkeypatch, scripted())


def test_stops_when_the_target_is_in_the_window(full_run):
    code, out = full_run
    kept = [p for _, p in load_records(out, CalibratedProblem)]
    assert code == 0
    assert [(p.entry_point, p.pass_rate) for p in kept] == [
        ("count_capitals", 0.5),
        ("reverse_words", 0.5),
    ]


def test_harder_variant_names_its_parent(full_run):
    _, out = full_run
    variant = load_records(out, CalibratedProblem)[0][1]
    assert variant.seed_id == key_of(GOOD["triple_sum"])
    assert variant.difficulty.startswith("harder than")


def test_meta_has_the_whole_funnel(full_run):
    _, out = full_run
    meta = json.loads(Path(str(out) + ".meta.json").read_text())
    assert meta["funnel"] == {
        "generated": 4,
        "parsed": 3,
        "verified": 3,
        "unique": 3,
        "clean": 3,
        "measured": 3,
        "in_window": 2,
    }
    assert meta["counts"]["complete"] and Path(meta["plot"]).is_file()


def test_resume_after_a_torn_journal_gives_the_same_output(tmp_path, monkeypatch, full_run):
    _, reference = full_run
    code, out = run(tmp_path / "b", monkeypatch, scripted())
    journal = Path(str(out) + ".journal.jsonl")
    journal.write_bytes(journal.read_bytes()[:-30])  # the second round was being written
    out.unlink()
    sampler = scripted()
    code, out = run(tmp_path / "b", monkeypatch, sampler, "--resume")
    assert code == 0 and out.read_bytes() == reference.read_bytes()
    # Round 2 is sampled again, but its measurements come from the side file.
    assert [kind for kind, _ in sampler.calls] == ["generate", "generate"]


def test_tiny_model_end_to_end(tmp_path, tiny_model_dir):
    out = tmp_path / "cal.jsonl"
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
            "--target",
            "1",
            "--max_attempts",
            "2",
            "--round_size",
            "2",
            "--gen_max_new_tokens",
            "24",
            "--max_new_tokens",  # calibration's budget here, as in the original
            "24",
            "--workers",
            "1",
        ]
    )
    meta = json.loads(Path(str(out) + ".meta.json").read_text())
    assert code == 1 and meta["funnel"]["generated"] == 2 and meta["funnel"]["in_window"] == 0


def test_funnel_script_summarises_the_run(full_run):
    """scripts/funnel.py (docs/benchmarks.md) on a finished pipeline run."""
    _, out = full_run
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "funnel.py"), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(done.stdout)
    assert summary["replies"] == 4 and summary["accepted"] == 3
    assert summary["clean_share_of_replies"] == 0.75
    assert summary["rejected_by"] == {"no_code": 1}  # the malformed reply
    assert summary["in_window"] == 2 and summary["mutant_kill_rate"]["problems_with_mutants"] >= 1
    assert summary["cpus"] and summary["tokens_per_second"] is not None


def test_rescreen_script_judges_a_journal_again(full_run):
    """scripts/rescreen.py gives the verdicts the run gave, from the journal alone."""
    _, out = full_run
    journal = str(out) + ".journal.jsonl"
    script = str(ROOT / "scripts" / "rescreen.py")
    done = subprocess.run(
        [sys.executable, script, journal, "--mode", "asserts"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {"replies": 4, "accepted": 3, "no_code": 1}


def test_funnel_counts_an_overlap_as_new_only_if_every_reason_is_new():
    sys.path.insert(0, str(ROOT / "scripts"))
    from funnel import _only_new

    def attempt(note):
        return {"stage": "clean", "codes": ["humaneval_overlap"], "notes": [note]}

    new = "humaneval_overlap: execution: HumanEval/61: reference passes its tests"
    mixed = new + "; same function name as HumanEval/61"
    assert _only_new(attempt(new)) and not _only_new(attempt(mixed))
    assert _only_new({"stage": "verify", "codes": ["weak_tests"], "notes": []})
    assert not _only_new({"stage": "parse", "codes": ["no_code"], "notes": []})
