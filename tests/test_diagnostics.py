"""Numerics and "did it move?": the dtype rule, the merge rule, the diagnostics, the recipes.

The merge rule is the point of issue 14's first item: an update smaller than bf16's resolution
(what a small learning rate for a few steps makes) must reach evaluation intact.
"""

import json
from pathlib import Path

import pytest

from laimark import diagnose_adapter, train_grpo
from laimark.core.config import from_args
from laimark.models.loading import cpu_has_native_bf16, load_model, resolve_dtype
from laimark.training import rewards
from laimark.training.diagnostics import heldout_change, movement_warnings, weight_change
from laimark.training.stage import TrainConfig

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


def make_adapter(model_dir, out, scale, seed=0):
    """A LoRA adapter on every linear layer whose B matrices are drawn with std `scale`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, scale)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def small_update(tiny_model_dir, tmp_path_factory):
    return make_adapter(tiny_model_dir, tmp_path_factory.mktemp("a") / "small", 1e-6)


def logits(model, ids):
    import torch

    with torch.no_grad():
        return model(ids).logits.float()


def test_cpu_flags_decide_native_bf16():
    assert cpu_has_native_bf16("flags\t\t: fpu avx2 amx_bf16 amx_tile\n")
    assert cpu_has_native_bf16("flags : avx512f avx512_bf16\n")
    assert not cpu_has_native_bf16("flags : fpu sse avx2 avx512f\n")
    assert resolve_dtype("fp16", "cpu") == "fp16"
    assert resolve_dtype("auto", "cpu") == ("bf16" if cpu_has_native_bf16() else "fp32")


def test_an_update_below_bf16_resolution_reaches_evaluation(tiny_model_dir, small_update):
    import torch
    from peft import PeftModel

    ids = torch.tensor([[5, 17, 42, 99, 7]])
    truth = load_model(str(tiny_model_dir), small_update, dtype="fp32", device="cpu")
    change = weight_change(truth.model, "bf16")
    assert 0 < change["relative_change"] < 2**-9  # smaller than bf16 can hold
    assert (
        change["visible_share_bf16"] < 0.5
        and weight_change(truth.model, "fp32")["visible_share_eval_dtype"] > 0.9
    )

    # fp32: merged, and the merged model computes what the adapter does
    merged = load_model(str(tiny_model_dir), small_update, dtype="fp32", device="cpu", merge=True)
    assert not isinstance(merged.model, PeftModel) and merged.identity["chain"][-1].endswith(
        "(merged)"
    )
    base = load_model(str(tiny_model_dir), None, dtype="fp32", device="cpu").model
    assert (logits(merged.model, ids) - logits(base, ids)).abs().max() > 0
    assert torch.allclose(logits(merged.model, ids), logits(truth.model, ids), atol=1e-5)

    # bf16: merging is asked for, but the adapter stays unmerged and intact
    low = load_model(str(tiny_model_dir), small_update, dtype="bf16", device="cpu", merge=True)
    assert isinstance(low.model, PeftModel) and low.identity["dtype"] == "bf16"
    kept = weight_change(low.model, "bf16")
    assert kept["mean_abs_delta"] == pytest.approx(change["mean_abs_delta"], rel=1e-6)

    # ... because merging into bf16 would have rounded most of the update away
    lossy = load_model(str(tiny_model_dir), small_update, dtype="bf16", device="cpu")
    before = {n: p.detach().clone() for n, p in lossy.model.get_base_model().named_parameters()}
    lossy_merged = lossy.model.merge_and_unload()
    moved = total = 0
    for name, p in lossy_merged.named_parameters():
        key = next(k for k in before if k.replace("base_layer.", "") == name)
        if key != name:  # a layer LoRA adapted
            moved += int((p != before[key]).sum())
            total += p.numel()
    assert total and moved / total < 0.5


@pytest.fixture(scope="module")
def sandbox():
    from laimark.execution.sandbox import Sandbox

    with Sandbox(workers=1) as sb:
        yield sb


def heldout():
    from laimark.training.data import load_problem_file

    return load_problem_file(str(EXAMPLES / "calibrated.jsonl"), [], "held-out")


def test_diagnostics_see_no_movement_for_a_zero_adapter(tiny_model_dir, tmp_path, sandbox):
    from laimark.core.solve import SolveFormat

    zero = make_adapter(tiny_model_dir, tmp_path / "zero", 0.0)
    loaded = load_model(str(tiny_model_dir), zero, dtype="fp32", device="cpu")
    diag = {"weights": weight_change(loaded.model, "fp32")}
    assert diag["weights"]["max_abs_delta"] == 0
    diag["heldout"] = heldout_change(
        loaded.model, loaded.tokenizer, heldout(), SolveFormat(), sandbox, max_new_tokens=8
    )
    assert diag["heldout"]["kl_per_token"] == 0 and diag["heldout"]["answers_changed"] == 0
    warnings = movement_warnings(
        diag, learning_rate=5e-6, steps=22, targets=["q_proj"], recipe="paper"
    )
    assert len(warnings) == 1 and "unchanged" in warnings[0]


def test_diagnostics_see_a_trained_update(tiny_model_dir, tmp_path, sandbox):
    from laimark.core.solve import SolveFormat

    big = make_adapter(tiny_model_dir, tmp_path / "big", 0.5)
    loaded = load_model(str(tiny_model_dir), big, dtype="fp32", device="cpu")
    held = heldout_change(
        loaded.model, loaded.tokenizer, heldout(), SolveFormat(), sandbox, max_new_tokens=8
    )
    assert held["kl_per_token"] > 1e-3 and held["kl_tokens"] > 0 and held["problems"] == 3
    diag = {"weights": weight_change(loaded.model, "fp32"), "heldout": held}
    assert (
        movement_warnings(
            diag, learning_rate=5e-5, steps=10, targets=["all-linear"], recipe="small"
        )
        == []
    )


def test_a_tiny_kl_warns_and_names_the_causes():
    diag = {
        "weights": {
            "max_abs_delta": 1e-6,
            "visible_share_eval_dtype": 1.0,
            "visible_share_bf16": 0.05,
            "eval_dtype": "fp32",
        },
        "heldout": {"kl_per_token": 2e-5},
    }
    text = " ".join(
        movement_warnings(
            diag, learning_rate=5e-6, steps=22, targets=["q_proj", "v_proj"], recipe="paper"
        )
    )
    assert "barely moved" in text and "5e-06 x 22" in text and "q_proj, v_proj only" in text
    assert "below bf16 resolution" in text


def config_of(*argv):
    args = train_grpo.parse_args(["--selfgen_only", *argv])
    return from_args(TrainConfig, args)


def test_recipes_fill_what_the_command_line_leaves_out():
    paper = config_of()
    assert paper.recipe == "paper" and paper.learning_rate == 5e-6
    assert paper.lora_target_modules == ["q_proj", "v_proj"] and paper.overrides == []
    small = config_of("--recipe", "small", "--learning_rate", "1e-4", "--lora_r", "16")
    assert small.learning_rate == 1e-4 and small.lora_target_modules == ["all-linear"]
    assert small.num_generations == 8 and small.epsilon_high == 0.28 and small.beta == 0.0
    assert small.drop_zero_signal and small.retire and small.mask_truncated_completions
    assert small.overrides == ["learning_rate"]  # r=16 is the recipe's own value
    assert config_of("--recipe", "small", "--no-retire").retire is False


def test_an_unknown_recipe_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        train_grpo.parse_args(["--selfgen_only", "--recipe", "huge"])
    assert e.value.code == 2 and "--recipe" in capsys.readouterr().err


def test_a_small_curriculum_is_repeated_to_fill_a_step():
    from laimark.core.solve import SolveFormat
    from laimark.training.data import build_dataset

    problems = heldout()
    ds = build_dataset(problems, SolveFormat(), min_rows=4)
    assert len(ds) == 6 and len(set(ds["key"])) == 3 and not any(ds["reserve"])
    ds = build_dataset(problems[:2], SolveFormat(), reserve=problems[2:])
    assert ds["reserve"] == [False, False, True]


def varying(completions, **kw):
    return [len(rewards.completion_text(c)) % 3 / 2 for c in completions]


def test_small_recipe_trains_and_records_its_diagnostics(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(rewards, "judge_reward", varying)
    out = tmp_path / "run"
    code = train_grpo.main(
        [
            "--model",
            str(tiny_model_dir),
            "--selfgen_only",
            "--curriculum",
            str(EXAMPLES / "calibrated.jsonl"),
            "--recipe",
            "small",
            "--per_device_train_batch_size",
            "8",
            "--max_steps",
            "2",
            "--max_completion_length",
            "12",
            "--no_gradient_checkpointing",
            "--learning_rate",
            "1e-2",
            "--no-mask_truncated_completions",  # 12 tokens: every completion is truncated
            "--heldout",
            str(EXAMPLES / "candidates.jsonl"),
            "--output_dir",
            str(out),
            "--workers",
            "1",
        ]
    )
    assert code == 0
    meta = json.loads((out / "adapter.meta.json").read_text())
    assert meta["recipe"]["name"] == "small" and set(meta["recipe"]["overrides"]) == {
        "per_device_train_batch_size",
        "learning_rate",
        "max_completion_length",
        "mask_truncated_completions",
    }
    assert meta["config"]["lora_target_modules"] == ["all-linear"]
    assert meta["numerics"]["adapter_dtype"] == ["float32"]
    assert meta["diagnostics"]["weights"]["max_abs_delta"] > 0
    assert meta["grpo"]["epsilon_high"] == 0.28 and meta["signal"]["drop_zero_signal"]
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert {"group_spread_mean", "generate_seconds", "reward_seconds"} <= set(rows[0])
    assert "did the policy move?" in capsys.readouterr().out


def test_diagnose_command_writes_its_report(tiny_model_dir, tmp_path, capsys):
    adapter = make_adapter(tiny_model_dir, tmp_path / "a", 0.5)
    out = tmp_path / "d.json"
    assert (
        diagnose_adapter.main(
            [
                "--adapter",
                str(adapter),
                "--model",
                str(tiny_model_dir),
                "--heldout",
                str(EXAMPLES / "calibrated.jsonl"),
                "--max_new_tokens",
                "8",
                "--output",
                str(out),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    diag = json.loads(out.read_text())
    assert diag["heldout"]["kl_per_token"] > 0 and diag["weights"]["eval_dtype"] in ("fp32", "bf16")
    assert json.loads(Path(f"{out}.meta.json").read_text())["status"] == "complete"
    assert diagnose_adapter.main(["--adapter", str(tmp_path)]) == 2
    assert "not a PEFT adapter folder" in capsys.readouterr().err


def test_bench_train_help_works():
    import subprocess
    import sys

    script = str(Path(__file__).resolve().parents[1] / "scripts" / "bench_train.py")
    out = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--dtypes" in out.stdout


def test_diagnose_reads_how_a_laimark_01_adapter_was_trained(tiny_model_dir, tmp_path):
    adapter = make_adapter(tiny_model_dir, tmp_path / "old", 1e-7)
    (adapter / "adapter.meta.json").write_text(
        json.dumps(
            {
                "args": {"learning_rate": 5e-6, "lora_target_modules": ["q_proj", "v_proj"]},
                "summary": {"steps": 22},
                "chain": [],
            }
        )
    )
    out = tmp_path / "d.json"
    argv = ["--adapter", str(adapter), "--model", str(tiny_model_dir), "--output", str(out)]
    assert diagnose_adapter.main(argv) == 0
    text = " ".join(json.loads(out.read_text())["warnings"])
    assert "5e-06 x 22" in text and "q_proj, v_proj only" in text
