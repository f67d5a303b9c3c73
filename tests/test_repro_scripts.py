"""The reproduction scripts (and the main job's sizes) cannot be run here (GPU rows) or take hours (the CPU experiment), so
their dry run is checked instead: every command a script would run is parsed by the real argument
parser of its stage, and the training ones also pass its consistency checks."""

import importlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from laimark.core.config import from_args

ROOT = Path(__file__).resolve().parents[1]
REPRO = ROOT / "scripts" / "repro"
MODULES = {
    "laimark-eval": "laimark.eval_adapter",
    "laimark-train": "laimark.train_grpo",
    "laimark-calibrate": "laimark.calibrate_problems",
    "laimark-generate": "laimark.generate_problems",
}
SCRIPTS = sorted(p.name for p in REPRO.glob("*.sh") if p.name not in ("lib.sh", "gpu_common.sh"))


def dry_run(script: str, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "LAIMARK_DRY_RUN": "1",
        "LAIMARK_OUT": str(tmp_path / "out"),
        "LAIMARK_RESULTS": str(tmp_path / "results"),
        "BIN": str(Path(sys.executable).parent),
        **env,
    }
    path = ROOT / "scripts" / script if script == "main.sh" else REPRO / script
    return subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=120)


def commands(stdout: str) -> list[tuple[str, list[str]]]:
    """(module, argv) for every DRY line that runs a laimark stage."""
    out = []
    for line in stdout.splitlines():
        if not line.startswith("DRY "):
            continue
        words = shlex.split(line[4:])
        exe = Path(words[0]).name
        if exe in MODULES:
            out.append((MODULES[exe], words[1:]))
        elif exe == "python" and words[1] == "-m":
            out.append((words[2], words[3:]))
    return out


def _configs():
    from laimark.curriculum.stages import CalibrateConfig, GenerateConfig, PipelineConfig
    from laimark.training.stage import TrainConfig

    return {
        "laimark.train_grpo": TrainConfig,
        "laimark.generate_problems": GenerateConfig,
        "laimark.calibrate_problems": CalibrateConfig,
        "laimark.generate_and_calibrate_hf": PipelineConfig,
    }


CONFIGS = _configs()


@pytest.mark.parametrize(
    ("script", "quick"),
    [(s, "0") for s in SCRIPTS if s != "paper_abduction.sh"] + [("main.sh", "0"), ("main.sh", "1")],
)
def test_every_stage_command_parses(script, quick, tmp_path):
    done = dry_run(script, tmp_path, LAIMARK_QUICK=quick)
    assert done.returncode == 0, done.stderr
    found = commands(done.stdout)
    assert found, done.stdout  # fresh output folders: every stage is to be run
    for module, argv in found:
        mod = importlib.import_module(module)
        args = mod.parse_args(argv)  # an unknown flag or a bad value exits here
        if module == "laimark.eval_adapter":
            args = args[1]
            config_cls = mod.mode_of(args)[2]
        else:
            config_cls = CONFIGS[module]
        from_args(config_cls, args)  # a value its typed config refuses raises ConfigError here


def test_paper_rows_that_train_evaluate_their_own_adapter(tmp_path):
    for script in (
        "paper_grpo_g2.sh",
        "paper_grpo_g4.sh",
        "paper_round2.sh",
        "paper_curated_mbpp.sh",
    ):
        found = commands(dry_run(script, tmp_path).stdout)
        trained = [
            argv[argv.index("--output_dir") + 1] for m, argv in found if m == "laimark.train_grpo"
        ]
        evaluated = [
            argv[argv.index("--adapter") + 1]
            for m, argv in found
            if m == "laimark.eval_adapter" and "--adapter" in argv
        ]
        assert trained and evaluated[-1] == trained[-1], script


def test_abduction_row_says_why_it_cannot_run(tmp_path):
    done = dry_run("paper_abduction.sh", tmp_path)
    assert done.returncode == 3 and "not scripted yet" in done.stderr


def _parsed_configs(script, tmp_path):
    for module, argv in commands(dry_run(script, tmp_path).stdout):
        mod = importlib.import_module(module)
        args = mod.parse_args(argv)
        if module == "laimark.eval_adapter":
            args = args[1]
            yield module, from_args(mod.mode_of(args)[2], args)
        else:
            yield module, from_args(CONFIGS[module], args)


@pytest.mark.parametrize(
    "script", [s for s in SCRIPTS if s.startswith("paper_") and s != "paper_abduction.sh"]
)
def test_paper_rows_run_the_papers_protocol(script, tmp_path):
    for module, config in _parsed_configs(script, tmp_path):
        solve = config.window.solve if module.endswith("calibrate_hf") else config.solve
        assert solve.name in ("paper", "paper-full"), (script, module)
        if module == "laimark.eval_adapter":
            assert (config.model.dtype, config.max_new_tokens) == ("fp16", 2048)
            assert config.model.thinking == "off"


def test_round2_writes_new_problems_with_the_round1_policy(tmp_path):
    made = [
        c for m, c in _parsed_configs("paper_round2.sh", tmp_path) if m.endswith("calibrate_hf")
    ]
    assert made and made[-1].model.adapter[-1].endswith("grpo_g4/adapter")
    assert made[-1].generation.exclude_names.endswith("round1_names.txt")


def test_an_interrupted_stage_is_run_again(tmp_path):
    """A sidecar still "running" (the stage was killed) does not count as done; "complete" does."""
    out = tmp_path / "results" / "format_effect"
    out.mkdir(parents=True)
    (out / "laimark.jsonl.meta.json").write_text(
        '{"schema": "laimark.run/1", "status": "complete"}'
    )
    (out / "paper.jsonl.meta.json").write_text('{"schema": "laimark.run/1", "status": "running"}')
    done = dry_run("cpu_format_effect.sh", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "solve format laimark: done already" in done.stdout
    formats = [argv[argv.index("--solve_format") + 1] for _, argv in commands(done.stdout)]
    assert formats == ["paper", "paper-full"]
