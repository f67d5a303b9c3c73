"""laimark-train on the tiny model on CPU: weights move, adapters reload, resume, iteration chains,
input errors before any model load."""

import json
from pathlib import Path

import pytest

from laimark import train_grpo
from laimark.models.loading import adapter_sha256
from laimark.training import rewards
from laimark.training.rewards import completion_text

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples" / "calibrated.jsonl"
MBPP = [
    {
        "task_id": 11,
        "text": "Write a function to remove the first and last occurrence of a given "
        "character from the string.",
        "code": "def remove_Occ(s,ch): \r\n    return s.replace(ch, '', 1)[::-1].replace(ch, '', 1)[::-1]",
        "test_list": [
            'assert remove_Occ("hello","l") == "heo"',
            'assert remove_Occ("abcda","a") == "bcd"',
        ],
        "test_setup_code": "",
        "challenge_test_list": [],
    },
    {
        "task_id": 12,
        "text": "Write a function to find the square root of a number.",
        "code": "import math\ndef root(x):\n    return math.sqrt(x)",
        "test_list": ["assert root(4) == 2", "assert root(9) == 3"],
    },
]


def varying_reward(completions, **columns):
    """Scripted reward with spread inside groups, so GRPO advantages are not all zero."""
    return [len(completion_text(c)) % 3 / 2 for c in completions]


def run(model_dir, out, *extra, curriculum=EXAMPLES):
    return train_grpo.main(
        [
            "--model",
            str(model_dir),
            "--selfgen_only",
            "--curriculum",
            str(curriculum),
            "--output_dir",
            str(out),
            "--max_steps",
            "3",
            "--max_completion_length",
            "12",
            "--dtype",
            "fp32",
            "--no_gradient_checkpointing",
            "--save_steps",
            "1",
            "--learning_rate",
            "1e-2",
            "--workers",
            "1",
            *extra,
        ]
    )


def lora_tensors(folder):
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "adapter_model.safetensors"))


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setattr(rewards, "judge_reward", varying_reward)


@pytest.fixture(scope="module")
def round1(tiny_model_dir, tmp_path_factory):
    """One trained adapter, shared by the tests that only read it."""
    mp = pytest.MonkeyPatch()
    mp.setattr(rewards, "judge_reward", varying_reward)
    out = tmp_path_factory.mktemp("r1") / "r1"
    try:
        assert run(tiny_model_dir, out) == 0
    finally:
        mp.undo()
    return out


def test_varying_rewards_change_lora_weights(round1):
    b = [t for k, t in lora_tensors(round1).items() if "lora_B" in k]
    assert b and any(t.abs().sum() > 0 for t in b)  # PEFT starts B at zero


def test_constant_reward_leaves_lora_untouched(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(rewards, "judge_reward", lambda completions, **kw: [1.0] * len(completions))
    assert run(tiny_model_dir, tmp_path / "out", "--max_steps", "2") == 0
    assert all(
        t.abs().sum() == 0 for k, t in lora_tensors(tmp_path / "out").items() if "lora_B" in k
    )
    rows = [json.loads(x) for x in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    assert [r["zero_signal_frac"] for r in rows] == [1.0, 1.0]


def test_outputs_log_plot_and_sidecar(round1):
    rows = [json.loads(x) for x in (round1 / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert {"reward", "reward_std", "zero_signal_frac", "kl", "loss", "seconds"} <= set(rows[0])
    assert (round1 / "reward.png").stat().st_size > 1000
    meta = json.loads((round1 / "adapter.meta.json").read_text())
    assert meta["contaminated"] is False and meta["chain"] == [] and meta["apply"] == [str(round1)]
    assert meta["grpo"]["num_generations"] == 4 and meta["grpo"]["loss_type"] == "dapo"
    assert meta["grpo"]["chat_template_kwargs"] == {"enable_thinking": False}  # --thinking off
    assert meta["implicit_trl_defaults"]["scale_rewards"] == "group"
    assert meta["adapter"]["sha256"] == adapter_sha256(round1)
    assert meta["solve_format"]["version"] and meta["data"]["sources"]["curriculum"]["rows"] == 3


def test_adapter_reloads_with_peft_and_generates(round1, tiny_model_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, str(round1))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tok("def f(x):", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5


def test_resume_continues_from_checkpoint(tiny_model_dir, tmp_path, monkeypatch):
    def crash_at_step_3(completions, trainer_state=None, **kw):
        if trainer_state.global_step == 2:
            raise RuntimeError("simulated crash")
        return varying_reward(completions)

    out = tmp_path / "out"
    monkeypatch.setattr(rewards, "judge_reward", crash_at_step_3)
    assert run(tiny_model_dir, out) == 1
    assert (out / "checkpoint-2").is_dir() and not (out / "adapter_model.safetensors").exists()
    assert json.loads((out / "adapter.meta.json").read_text())["status"] == "failed"
    assert run(tiny_model_dir, out) == 2  # no silent restart over an interrupted run
    monkeypatch.setattr(rewards, "judge_reward", varying_reward)
    assert run(tiny_model_dir, out, "--resume") == 0
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    meta = json.loads((out / "adapter.meta.json").read_text())
    # the signal tracker's state comes back with the checkpoint: its history spans both sessions
    assert meta["counts"]["steps"] == 3 and meta["counts"]["reward_calls"] == 3
    assert meta["sessions"] == 2 and meta["status"] == "complete"


def test_resume_with_other_flags_is_refused(round1, tiny_model_dir, tmp_path, capsys):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(round1, out)
    assert run(tiny_model_dir, out, "--resume", "--learning_rate", "1e-3") == 2
    assert "learning_rate" in capsys.readouterr().err


def test_iteration_chain_keeps_start_and_evaluates_in_order(
    round1, tiny_model_dir, tmp_path, scripted
):
    import torch

    from laimark.models.loading import adapter_chain, apply_adapter, load_model

    before = {p.name: p.read_bytes() for p in round1.iterdir() if p.is_file()}
    r2 = tmp_path / "r2"
    assert run(tiny_model_dir, r2, "--base_adapter", str(round1)) == 0
    assert {p.name: p.read_bytes() for p in round1.iterdir() if p.is_file()} == before
    meta = json.loads((r2 / "adapter.meta.json").read_text())
    assert meta["chain"] == [{"path": str(round1), "sha256": adapter_sha256(round1)}]
    assert adapter_chain(r2) == [str(round1), str(r2)] == meta["apply"]

    ids = torch.tensor([[5, 17, 42, 8, 99]])

    def logits(adapters):
        return (
            load_model(str(tiny_model_dir), adapters, dtype="fp32", device="cpu").model(ids).logits
        )

    chained = logits(adapter_chain(r2))
    # Evaluation needs nothing but the folder: load_model expands it into its chain.
    assert torch.allclose(chained, logits(str(r2)))
    base = load_model(str(tiny_model_dir), None, dtype="fp32", device="cpu").model
    alone = apply_adapter(base, r2).model(ids).logits
    assert not torch.allclose(chained, alone)  # the earlier round matters
    assert not torch.allclose(chained, logits([str(round1)]))  # and so does this one


def test_chain_with_a_changed_start_adapter_is_refused(round1, tmp_path):
    import shutil

    from laimark.models.loading import ModelError, adapter_chain

    r2 = tmp_path / "r2"
    shutil.copytree(round1, r2)
    meta = json.loads((r2 / "adapter.meta.json").read_text())
    meta["chain"] = [{"path": str(round1), "sha256": "0" * 64}]
    (r2 / "adapter.meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="missing or was changed"):
        adapter_chain(r2)


def test_output_dir_inside_base_adapter_is_refused(round1, tiny_model_dir, capsys):
    assert run(tiny_model_dir, round1 / "r2", "--base_adapter", str(round1)) == 2
    assert "--base_adapter" in capsys.readouterr().err


def test_bad_curriculum_line_fails_before_model_load(tiny_model_dir, tmp_path, monkeypatch, capsys):
    import laimark.models.loading

    monkeypatch.setattr(
        laimark.models.loading, "load_model", lambda *a, **k: pytest.fail("model loaded")
    )
    bad = tmp_path / "bad.jsonl"
    good = EXAMPLES.read_text().splitlines()[0]
    bad.write_text(good + "\n" + json.dumps({**json.loads(good), "tests": [1, 2]}) + "\n")
    assert run(tiny_model_dir, tmp_path / "out", curriculum=bad) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err and "field 'tests'" in err


def test_problem_type_without_reward_is_refused(tiny_model_dir, tmp_path, capsys):
    bad = tmp_path / "ded.jsonl"
    bad.write_text(
        json.dumps({**json.loads(EXAMPLES.read_text().splitlines()[0]), "problem_type": "riddle"})
        + "\n"
    )
    assert run(tiny_model_dir, tmp_path / "out", curriculum=bad) == 2
    assert f"{bad}:1: field 'problem_type'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, message",
    [
        ([], "--selfgen_only"),
        (["--selfgen_only", "--num_generations", "1"], "at least 2"),
        (["--selfgen_only", "--per_device_train_batch_size", "6"], "multiple of --num_generations"),
        (["--selfgen_only", "--mbpp", "x.jsonl"], "curriculum alone"),
        (["--mbpp", "x.jsonl", "--curriculum", "none", "--weighted"], "no curriculum"),
        (["--selfgen_only", "--use_vllm"], "needs vllm"),
        (["--selfgen_only", "--resume", "nowhere"], "not a checkpoint folder"),
        (["--selfgen_only", "--vllm_mode", "server"], "does not use"),
        (["--mbpp", "x.jsonl", "--mbpp_split", "train"], "only applies to --mbpp hub"),
        (["--selfgen_only", "--raw_completion", "--system_prompt", "hi"], "chat template"),
    ],
)
def test_usage_errors(tmp_path, capsys, flags, message):
    assert train_grpo.main(["--output_dir", str(tmp_path / "o"), *flags]) == 2
    assert message in capsys.readouterr().err


def test_raw_completion_mode_trains(tiny_model_dir, tmp_path, scripted):
    assert run(tiny_model_dir, tmp_path / "raw", "--raw_completion", "--max_steps", "1") == 0
    meta = json.loads((tmp_path / "raw" / "adapter.meta.json").read_text())
    assert meta["reward"]["chat"] is False


def test_a_run_that_never_started_can_be_rerun(tiny_model_dir, tmp_path, scripted, capsys, caplog):
    out = tmp_path / "out"
    assert run("no-such-model", out) == 2
    assert "unknown model" in capsys.readouterr().err
    # Scripts always pass --resume: with no checkpoint yet it starts at step 0, and says so.
    assert run(tiny_model_dir, out, "--max_steps", "1", "--resume") == 0
    assert "no checkpoint" in caplog.text
    assert [r["step"] for r in map(json.loads, (out / "train_log.jsonl").open())] == [1]


def test_existing_output_needs_resume(round1, capsys):
    assert train_grpo.main(["--selfgen_only", "--output_dir", str(round1)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_weighted_repeats_problems_near_half(tmp_path):
    from laimark.core.records import RecordError
    from laimark.training.data import load_curriculum

    rates = [json.loads(x)["pass_rate"] for x in EXAMPLES.read_text().splitlines()]
    rows = load_curriculum(str(EXAMPLES), weighted=True)
    assert len(rows) == sum(max(1, round(3 * (1 - 2 * abs(p - 0.5)))) for p in rates) > len(rates)
    no_rate = tmp_path / "c.jsonl"
    no_rate.write_text(
        json.dumps({**json.loads(EXAMPLES.read_text().splitlines()[0]), "pass_rate": None}) + "\n"
    )
    with pytest.raises(RecordError, match="c.jsonl:1: field 'pass_rate'"):
        load_curriculum(str(no_rate), weighted=True)


def test_mbpp_records_become_problems_their_reference_passes(tmp_path):
    from laimark.execution.harness import judge_many
    from laimark.execution.sandbox import Sandbox
    from laimark.training.data import load_mbpp

    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in MBPP))
    problems = [p for _, p in load_mbpp(str(path), "test")]
    assert [p.entry_point for p in problems] == ["remove_Occ", "root"]
    assert problems[1].prompt.startswith("import math\ndef root(x):")
    with Sandbox(workers=1) as sb:
        verdicts = judge_many(sb, [(p, p.solution) for p in problems], mode="function")
    assert [v.passed for v in verdicts] == [True, True]


def test_bad_mbpp_line_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "mbpp.jsonl"
    path.write_text(json.dumps(MBPP[0]) + "\n" + json.dumps({**MBPP[1], "test_list": "x"}) + "\n")
    rc = train_grpo.main(
        ["--mbpp", str(path), "--curriculum", "none", "--output_dir", str(tmp_path / "o")]
    )
    assert rc == 2 and f"{path}:2: field 'test_list'" in capsys.readouterr().err


def test_humaneval_training_marks_outputs_contaminated(tiny_model_dir, tmp_path, scripted):
    out = tmp_path / "he"
    assert (
        train_grpo.main(
            [
                "--model",
                str(tiny_model_dir),
                "--train_on_humaneval",
                "--curriculum",
                "none",
                "--output_dir",
                str(out),
                "--max_steps",
                "1",
                "--max_completion_length",
                "8",
                "--dtype",
                "fp32",
                "--no_gradient_checkpointing",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    meta = json.loads((out / "adapter.meta.json").read_text())
    assert meta["contaminated"] is True and meta["data"]["sources"]["humaneval"]["rows"] == 164


def test_contamination_is_inherited_through_the_chain(round1, tiny_model_dir, tmp_path, scripted):
    import shutil

    dirty = tmp_path / "dirty"
    shutil.copytree(round1, dirty)
    meta = json.loads((dirty / "adapter.meta.json").read_text())
    (dirty / "adapter.meta.json").write_text(json.dumps({**meta, "contaminated": True}))
    assert (
        run(tiny_model_dir, tmp_path / "r2", "--base_adapter", str(dirty), "--max_steps", "1") == 0
    )
    meta2 = json.loads((tmp_path / "r2" / "adapter.meta.json").read_text())
    assert meta2["contaminated"] is True and str(dirty) in meta2["contamination"][0]


def test_missing_curriculum_says_how_to_make_one(tmp_path, capsys):
    missing = tmp_path / "calibrated_selfgen.jsonl"
    rc = train_grpo.main(
        ["--selfgen_only", "--curriculum", str(missing), "--output_dir", str(tmp_path / "o")]
    )
    assert rc == 2 and f"{missing}:0: file not found" in capsys.readouterr().err


def test_the_adapter_is_also_at_final_as_the_original_wrote_it(round1, tiny_model_dir):
    from laimark.models.loading import adapter_chain, adapter_sha256, load_model

    final = round1 / "final"
    assert adapter_sha256(final) == adapter_sha256(round1)
    assert adapter_chain(final) == [str(final)]
    loaded = load_model(str(tiny_model_dir), [str(final)], dtype="fp32", device="cpu")
    assert loaded.identity["adapters"][0]["sha256"] == adapter_sha256(round1)


def test_small_recipe_drops_groups_without_signal(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(rewards, "judge_reward", lambda completions, **kw: [1.0] * len(completions))
    out = tmp_path / "small"
    assert (
        run(
            tiny_model_dir,
            out,
            "--recipe",
            "small",
            "--per_device_train_batch_size",
            "8",
            "--max_steps",
            "1",
            "--no-mask_truncated_completions",
        )
        == 0
    )
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert rows[0]["dropped_zero_signal_frac"] == 1.0
    meta = json.loads((out / "adapter.meta.json").read_text())
    assert meta["signal"]["dropped_rows"] == meta["signal"]["rows"] == 8
    assert "unchanged" in meta["diagnostics"]["warnings"][0]


def test_a_second_round_trains_in_bf16(round1, tiny_model_dir, tmp_path, scripted):
    # the starting adapter is merged into the base even where sampling would keep it unmerged
    out = tmp_path / "r2bf16"
    assert run(tiny_model_dir, out, "--base_adapter", str(round1), "--dtype", "bf16") == 0
    meta = json.loads((out / "adapter.meta.json").read_text())
    assert meta["numerics"]["dtype"] == "bf16" and meta["model"]["chain"][-1].endswith("(merged)")


def test_a_reserve_needs_retirement(tiny_model_dir, tmp_path, capsys):
    assert run(tiny_model_dir, tmp_path / "o", "--reserve", str(EXAMPLES)) == 2
    assert "--reserve replaces retired problems" in capsys.readouterr().err
