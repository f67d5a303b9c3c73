"""scripts/make_tables.py: numbers from result files, markers, --check, errors, LaTeX."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from laimark.evaluation.stats import mcnemar_exact, wilson_interval

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "make_tables.py"
DOC = "docs/experimental-results.md"

# Six tasks: the run keeps tasks 0-1, loses 2, gains 3-5 (3 gained, 1 lost, both 2, neither 0).
BASE = [True, True, True, False, False, False]
RUN = [True, True, False, True, True, True]
REWARDS = [0, 0, 0.25, 0.25, 0.5, 0.5, 0.5, 0.5, 0.5, 0.75, 0.75, 1.0]  # first 5: 0.2, last 5: 0.7
PROSE = (
    "# Results\n\nHand-written intro.\n\n{main}\nMiddle prose.\n\n{training}\n{funnel}\n"
    "{rejections}\n{paper}\n{formats}\nClosing prose.\n"
)


@pytest.fixture(scope="module")
def mt():
    spec = importlib.util.spec_from_file_location("make_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def results(passed: list[bool]) -> list[dict]:
    return [
        {
            "task_id": f"HumanEval/{i}",
            "completion": "return 1",
            "passed": p,
            "result": "passed" if p else "failed: AssertionError",
            "reason": "x",
        }
        for i, p in enumerate(passed)
    ]


def markers(name: str) -> str:
    return f"<!-- make_tables:{name} -->\nold {name} table\n<!-- /make_tables:{name} -->\n"


@pytest.fixture
def project(tmp_path):
    """A repository root with a baseline, one trained run, one curriculum and two paper rows."""
    write_jsonl(tmp_path / "res/base.jsonl", results(BASE))
    write_jsonl(tmp_path / "res/run.jsonl", results(RUN))
    write_jsonl(
        tmp_path / "res/train_log.jsonl",
        [
            {
                "step": i + 1,
                "seconds": 600.0,
                "reward": r,
                "zero_signal_frac": 1.0 if i % 2 else 0.5,
                "loss": 0.0,
                "step_time": 599.0,
            }
            for i, r in enumerate(REWARDS)
        ],
    )
    meta = {
        "stage": "train_grpo",
        "args": {
            "learning_rate": 5e-06,
            "num_generations": 4,
            "max_completion_length": 512,
            "lora_r": 16,
            "lora_alpha": 32,
        },
        "data": {"sources": {"curriculum": {"path": "c.jsonl", "rows": 12}}},
    }
    (tmp_path / "res/adapter.meta.json").write_text(json.dumps(meta))
    funnel = {
        "funnel": {
            "generated": 400,
            "parsed": 390,
            "verified": 80,
            "unique": 75,
            "clean": 50,
            "input": 50,
            "measured": 50,
            "in_window": 14,
        },
        "rejected_by": {
            "vacuous_tests": 5,
            "solution_fails": 200,
            "duplicate": 5,
            "parse_error": 10,
        },
        "generate_seconds": {"sample": 7000.0, "check": 200.0},
        "generate_tokens": 1,
        "calibrate_seconds": 1800.0,
        "calibrate_tokens": 1,
    }
    (tmp_path / "res/funnel.json").write_text(json.dumps(funnel))
    manifest = {
        "humaneval_tasks": 6,
        "baseline": {"label": "base", "results": "res/base.jsonl"},
        "runs": [
            {
                "label": "GRPO, seed 42",
                "results": "res/run.jsonl",
                "train_meta": "res/adapter.meta.json",
                "train_log": "res/train_log.jsonl",
            }
        ],
        "curricula": [{"label": "tiny", "funnel": "res/funnel.json"}],
        "paper_rows": [
            {
                "row": "Base",
                "paper": 63.4,
                "script": "scripts/repro/paper_base.sh",
                "results": None,
            },
            {
                "row": "GRPO G=4",
                "paper": 76.8,
                "script": "scripts/repro/paper_grpo_g4.sh",
                "results": "res/run.jsonl",
                "note": "50% of it_is & #1",
            },
        ],
        "formats": [
            {"label": "ours", "results": "res/base.jsonl"},
            {"label": "paper", "results": "res/run.jsonl"},
        ],
    }
    write_manifest(tmp_path, manifest)
    (tmp_path / "docs").mkdir()
    names = ("main", "training", "funnel", "rejections", "paper", "formats")
    (tmp_path / DOC).write_text(PROSE.format(**{n: markers(n) for n in names}))
    return tmp_path


def write_manifest(root: Path, manifest: dict) -> None:
    (root / "data/results").mkdir(parents=True, exist_ok=True)
    (root / "data/results/experiments.json").write_text(json.dumps(manifest, indent=1))


def manifest_of(root: Path) -> dict:
    return json.loads((root / "data/results/experiments.json").read_text())


def run(mt, root: Path, *args: str) -> int:
    return mt.main(["--root", str(root), *args])


def test_main_table_numbers(mt, project):
    assert run(mt, project) == 0
    doc = (project / DOC).read_text()
    lo, hi = wilson_interval(3, 6)
    assert f"| base | 3/6 | 0.500 | {lo:.3f}–{hi:.3f} | — | — | — |" in doc
    lo, hi = wilson_interval(5, 6)
    p = mcnemar_exact(1, 3)
    assert p == 0.625
    assert f"| GRPO, seed 42 | 5/6 | 0.833 | {lo:.3f}–{hi:.3f} | +0.333 | 3 / 1 | {p:#.4g} |" in doc
    assert "†" not in doc  # all 6 tasks of this benchmark are covered


def test_partial_benchmark_is_marked(mt, project):
    write_manifest(project, {**manifest_of(project), "humaneval_tasks": 164})
    assert run(mt, project) == 0
    doc = (project / DOC).read_text()
    assert "| base † | 3/6 |" in doc and "| GRPO, seed 42 † | 5/6 |" in doc
    assert "Not full HumanEval" in doc and "83.3 (5/6) †" in doc


def test_training_funnel_and_rejections(mt, project):
    assert run(mt, project) == 0
    doc = (project / DOC).read_text()
    assert (
        "| GRPO, seed 42 | 12 | 2:00 | 0.200 → 0.700 | 0.750 | 5e-6 | 4 | 512 | 16/32 | 12 |" in doc
    )
    assert "| tiny | 400 | 390 | 80 | 75 | 50 | 50 | 14 | 2.00 | 0.50 | 5.6 |" in doc
    order = [
        "`solution_fails` | 200",
        "`parse_error` | 10",
        "`duplicate` | 5",
        "`vacuous_tests` | 5",
    ]
    positions = [doc.index(row) for row in order]
    assert positions == sorted(positions)


def test_paper_rows(mt, project):
    assert run(mt, project) == 0
    doc = (project / DOC).read_text()
    assert "| Base | 63.4 | `scripts/repro/paper_base.sh` | not run (needs a GPU) |  |" in doc
    assert "| GRPO G=4 | 76.8 | `scripts/repro/paper_grpo_g4.sh` | 83.3 (5/6) |" in doc


def test_formats_table(mt, project):
    """Each format against the first, with the answers that wrote the whole function counted."""
    whole = results(RUN)
    whole[0]["completion"] = "```python\ndef has_close_elements(a, b):\n    return 1\n```"
    whole[2]["reason"] = "syntax_error"
    write_jsonl(project / "res/run.jsonl", whole)
    assert run(mt, project) == 0
    doc = (project / DOC).read_text()
    assert "| ours | 3/6 | 0.500 |" in doc and "| 0/6 | 0/6 | — | — | — |" in doc
    assert "| paper | 5/6 | 0.833 |" in doc and "| 1/6 | 1/6 | +0.333 | 3 / 1 | 0.6250 |" in doc
    assert "Δ vs ours" in doc


def test_formats_may_be_left_out(mt, project):
    manifest = manifest_of(project)
    del manifest["formats"]
    write_manifest(project, manifest)
    assert run(mt, project) == 0
    assert "_No solve-format runs in the manifest yet._" in (project / DOC).read_text()


def without_blocks(text: str) -> str:
    """`text` with everything between a pair of make_tables markers taken out."""
    return re.sub(
        r"(<!-- make_tables:(\w+) -->).*?(<!-- /make_tables:\2 -->)", r"\1\3", text, flags=re.S
    )


def test_markers_replaced_prose_kept(mt, project):
    before = (project / DOC).read_text()
    assert run(mt, project) == 0
    doc = (project / DOC).read_text()
    assert without_blocks(doc) == without_blocks(before)  # the prose, byte for byte
    assert "<!-- make_tables:main -->\n| run | passed |" in doc
    assert "old main table" not in doc and "old paper table" not in doc
    assert doc.count("| GRPO, seed 42 | 5/6 |") == 1
    assert "_No" not in doc  # every table has rows here


def test_check_reports_stale_and_writes_nothing(mt, project, capsys):
    before = (project / DOC).read_text()
    assert run(mt, project, "--check") == 1
    assert DOC in capsys.readouterr().err
    assert (project / DOC).read_text() == before
    assert not (project / "paper/tables").exists()


def test_check_passes_after_writing_and_sees_a_changed_log(mt, project, capsys):
    assert run(mt, project) == 0
    assert run(mt, project, "--check") == 0
    capsys.readouterr()
    log = project / "res/train_log.jsonl"
    log.write_text(log.read_text().replace('"reward": 1.0', '"reward": 0.0'))
    assert run(mt, project, "--check") == 1
    err = capsys.readouterr().err
    assert "paper/tables/training.tex" in err and DOC in err and "main.tex" not in err


def test_output_is_deterministic(mt, project):
    assert run(mt, project) == 0
    first = {p: p.read_text() for p in (project / "paper/tables").iterdir()}
    assert run(mt, project) == 0
    assert {p: p.read_text() for p in (project / "paper/tables").iterdir()} == first


def test_missing_results_file_names_it(mt, project, capsys):
    (project / "res/run.jsonl").unlink()
    assert run(mt, project) == 2
    assert "res/run.jsonl: file not found" in capsys.readouterr().err


def test_malformed_results_line_names_file_and_line(mt, project, capsys):
    path = project / "res/run.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = "{not json\n"
    path.write_text("".join(lines))
    assert run(mt, project) == 2
    assert "res/run.jsonl:3: invalid JSON" in capsys.readouterr().err


def test_bad_manifest_field_is_named(mt, project, capsys):
    manifest = manifest_of(project)
    manifest["runs"][0]["results"] = 5
    write_manifest(project, manifest)
    assert run(mt, project) == 2
    err = capsys.readouterr().err
    assert "data/results/experiments.json: field 'runs[0].results' must be a string" in err


def test_missing_sidecar_field_is_named(mt, project, capsys):
    meta_path = project / "res/adapter.meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["args"]["lora_r"]
    meta_path.write_text(json.dumps(meta))
    assert run(mt, project) == 2
    assert "res/adapter.meta.json: field 'args.lora_r' is required" in capsys.readouterr().err


def test_run_on_other_tasks_is_refused(mt, project, capsys):
    write_jsonl(project / "res/run.jsonl", results(RUN[:5]))
    assert run(mt, project) == 2
    err = capsys.readouterr().err
    assert "res/base.jsonl and res/run.jsonl: the two runs cover different tasks" in err
    assert "HumanEval/5" in err


def test_doc_without_marker_names_doc_and_marker(mt, project, capsys):
    doc = project / DOC
    doc.write_text(doc.read_text().replace("<!-- /make_tables:funnel -->\n", ""))
    assert run(mt, project) == 2
    err = capsys.readouterr().err
    assert DOC in err and "<!-- /make_tables:funnel --> is missing" in err


def test_latex_escaping_and_booktabs(mt, project):
    assert mt.tex_escape("a_b 50% & #1 {x} --count") == (r"a\_b 50\% \& \#1 \{x\} -{}-count")
    assert run(mt, project) == 0
    tex = (project / "paper/tables/paper.tex").read_text()
    assert tex.startswith(
        "% Generated by scripts/make_tables.py from data/results/experiments.json"
    )
    assert r"\texttt{scripts/repro/paper\_grpo\_g4.sh}" in tex
    assert r"50\% of it\_is \& \#1" in tex
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\label{tab:paper}"):
        assert rule in tex
    main = (project / "paper/tables/main.tex").read_text()
    assert r"+0.333 & 3 / 1 & 0.6250 \\" in main and r"$\Delta$ vs baseline" in main


def test_empty_tables_render_a_message(mt, project):
    write_manifest(project, {**manifest_of(project), "runs": [], "curricula": []})
    assert run(mt, project) == 0
    assert "_No training runs in the manifest yet._" in (project / DOC).read_text()
    tex = (project / "paper/tables/funnel.tex").read_text()
    assert r"\multicolumn{11}{c}{\emph{No curricula in the manifest yet.}}" in tex


def test_help_does_not_import_torch():
    code = (
        "import runpy, sys\nsys.argv = ['make_tables.py', '--help']\n"
        f"try:\n    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
        "except SystemExit:\n    pass\nprint('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "--check" in out.stdout and out.stdout.strip().endswith("False")


def test_repository_tables_match_result_files(mt):
    """The committed doc and LaTeX tables are what the manifest's files give (no drift)."""
    assert mt.main(["--check"]) == 0
