"""The refactors of the package must not change what a stage writes for the same seed.

Each stage runs on a fixed input, with the scripted model (tests/scripted.py) for generation,
calibration and evaluation and the tiny model for training; its outputs, with timings and paths
taken out, are compared with files written by the code before the architecture change
(tests/data/golden/). To record them again after a deliberate change of behaviour:

    python tests/test_same_output.py --write
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from scripted import BAD, GOOD, ScriptedSampler, fresh_seed  # noqa: E402

GOLDEN = Path(__file__).parent / "data" / "golden"
# Fields that hold timings, token counts, paths or versions: they differ between runs by nature.
VOLATILE = {
    "seconds",
    "session_wall_seconds",
    "work_seconds",
    "wall_seconds",
    "accepted_per_hour",
    "timings",
    "tokens",
    "started",
    "finished",
    "versions",
    "sandbox",
    "path",
    "args",
    "config",
    "input",
    "output",
    "journal",
    "measured",
    "plot",
    "config_id",
}
REPLIES = ["triple_sum", "malformed", "count_capitals", "wrong_solution", "reverse_words"]
REPLIES += ["vacuous", "digit_product", "humaneval_copy"]
SOLVE = {  # entry point -> correct code, wrong code, correct samples out of 8
    "triple_sum": (
        "def triple_sum(x):\n    return 3 * sum(x)",
        "def triple_sum(x):\n    return 0",
        4,
    ),
    "count_capitals": (
        "def count_capitals(x):\n    return sum(c.isupper() for c in x)",
        "def count_capitals(x):\n    return 1",
        8,
    ),
    "reverse_words": (
        "def reverse_words(x):\n    return ' '.join(x.split()[::-1])",
        "def reverse_words(x):\n    return x",
        2,
    ),
    "digit_product": ("", "def digit_product(x):\n    return 1", 0),
    # HumanEval/0 and /2, for the evaluation stage
    "has_close_elements": (
        "def has_close_elements(numbers, threshold):\n    return any(abs(a - b) < threshold "
        "for i, a in enumerate(numbers) for b in numbers[i + 1:])",
        "def has_close_elements(numbers, threshold):\n    return False",
        1,
    ),
    "truncate_number": ("def truncate_number(number):\n    return number % 1.0", "", 1),
}


def _sampler() -> ScriptedSampler:
    replies = {fresh_seed(0, i): GOOD.get(name) or BAD[name] for i, name in enumerate(REPLIES)}
    return ScriptedSampler(replies, SOLVE)


def _stable(obj):
    """`obj` with the volatile fields removed, recursively."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def _read(path: Path):
    if path.name == "train_log.jsonl":  # losses and norms vary with the CPU's float rounding
        keep = ("step", "epoch", "reward")
        return [
            {k: json.loads(line).get(k) for k in keep} for line in path.read_text().splitlines()
        ]
    if path.suffix == ".jsonl":
        return [_stable(json.loads(line)) for line in path.read_text().splitlines() if line]
    return _stable(json.loads(path.read_text()))


def _use_scripted(monkeypatch, sampler) -> None:
    import laimark.models.sampling

    monkeypatch.setattr(laimark.models.sampling, "sampler_for", lambda config: sampler)


ASSERTS = ["--mode", "asserts"]  # the scripted replies are written in that mode


def _run_stages(out: Path, monkeypatch, tiny_model_dir) -> dict[str, Path]:
    """Run every stage into `out`; returns name -> file to compare."""
    from laimark import (
        calibrate_problems,
        eval_adapter,
        generate_and_calibrate_hf,
        generate_problems,
        train_grpo,
    )

    _use_scripted(monkeypatch, _sampler())
    cand, cal, pipe, ev = (out / n for n in ("cand.jsonl", "cal.jsonl", "pipe.jsonl", "ev.jsonl"))
    # --seed 0: the default when the golden files were written (now the original's 42)
    assert (
        generate_problems.main(
            ["--count", "4", "--output", str(cand), "--round_size", "3", "--seed", "0", *ASSERTS]
        )
        == 0
    )
    _use_scripted(monkeypatch, _sampler())
    calibrate = ["--input", str(cand), "--output", str(cal), "--keep_all", "--seed", "0"]
    assert calibrate_problems.main(calibrate) == 0
    _use_scripted(monkeypatch, _sampler())
    pipeline = ["--target", "2", "--output", str(pipe), "--round_size", "3", "--max_attempts", "9"]
    pipeline += ["--seed", "0", *ASSERTS]
    assert generate_and_calibrate_hf.main(pipeline) == 0
    _use_scripted(monkeypatch, _sampler())
    evaluate = ["--output", str(ev), "--limit", "3", "--n_samples", "2", "--temperature", "0.5"]
    evaluate += ["--seed", "0"]
    assert eval_adapter.main([*evaluate, "--k", "1", "2"]) == 0
    train = out / "train"
    args = ["--model", str(tiny_model_dir), "--curriculum", str(cal), "--selfgen_only"]
    args += ["--output_dir", str(train), "--max_steps", "2", "--max_completion_length", "8"]
    args += ["--dtype", "fp32", "--save_steps", "100", "--no_gradient_checkpointing"]
    assert train_grpo.main(args) == 0
    files = {
        "generate": cand,
        "calibrate": cal,
        "calibrate.measured": Path(f"{cal}.measured.jsonl"),
        "pipeline": pipe,
        "evaluate": ev,
        "train.log": train / "train_log.jsonl",
    }
    return files


def test_every_stage_writes_what_it_wrote_before(tmp_path, monkeypatch, tiny_model_dir):
    write = os.environ.get("LAIMARK_WRITE_GOLDEN") == "1"
    files = _run_stages(tmp_path, monkeypatch, tiny_model_dir)
    for name, path in files.items():
        golden = GOLDEN / f"{name}.json"
        if write:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(json.dumps(_read(path), indent=1, sort_keys=True) + "\n")
            continue
        assert _read(path) == json.loads(golden.read_text()), name


if __name__ == "__main__" and "--write" in sys.argv:
    # Run as a script: the same test, writing the files instead of comparing with them.
    os.environ["LAIMARK_WRITE_GOLDEN"] = "1"
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
