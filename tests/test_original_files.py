"""Curriculum files of the original LAIMARK's shape load in every stage that reads curricula.

The original writes `learnability_zone` as the window `[lo, hi]`, `samples` without `n_passed`,
and `pass_rate: -1` with `samples: 0` for a problem it has not calibrated (its proposer-only
mode); its prompts often lack the final newline. The problems here are our own, in that layout.
"""

import dataclasses
import json
from pathlib import Path

import pytest

from laimark import check
from laimark.core.records import CalibratedProblem, RecordError, load_records
from laimark.training.data import load_curriculum

PROMPT = 'def double_all(xs: list[int]) -> list[int]:\n    """Double every number.\n    >>> double_all([1, 2])\n    [2, 4]\n    """'  # noqa: E501
BASE = {
    "prompt": PROMPT,
    "tests": "assert double_all([1, 2]) == [2, 4]\nassert double_all([]) == []\n"
    "assert double_all([-3]) == [-6]",
    "solution": "def double_all(xs: list[int]) -> list[int]:\n    return [2 * x for x in xs]",
    "entry_point": "double_all",
    "topic": "list operations",
    "difficulty": "easy",
    "source": "self-generated",
}
CALIBRATED = {**BASE, "pass_rate": 0.5, "samples": 4, "learnability_zone": [0.2, 0.8]}
PROPOSED = {**BASE, "pass_rate": -1, "samples": 0}


def write(tmp_path, *records):
    path = tmp_path / "original.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_window_zone_and_not_calibrated_rate_load_and_round_trip(tmp_path):
    (_, cal), (_, prop) = load_records(write(tmp_path, CALIBRATED, PROPOSED), CalibratedProblem)
    assert cal.learnability_zone == [0.2, 0.8] and cal.measured_rate == 0.5
    assert prop.pass_rate == -1 and prop.measured_rate is None
    for record, written in ((cal, CALIBRATED), (prop, PROPOSED)):  # every field kept as written
        assert {k: record.to_dict()[k] for k in written} == written


@pytest.mark.parametrize(
    "field,value",
    [("learnability_zone", [0.8, 0.2]), ("learnability_zone", [0.2]), ("pass_rate", -0.5)],
)
def test_other_shapes_of_those_fields_are_still_refused(tmp_path, field, value):
    with pytest.raises(RecordError, match=f"original.jsonl:1: field '{field}'"):
        load_records(write(tmp_path, {**CALIBRATED, field: value}), CalibratedProblem)


def test_training_reads_an_original_curriculum(tmp_path):
    rows = load_curriculum(str(write(tmp_path, CALIBRATED, PROPOSED)), weighted=False)
    assert [p.entry_point for _, p in rows] == ["double_all", "double_all"]


def test_weighting_needs_a_measured_rate(tmp_path):
    with pytest.raises(RecordError, match="original.jsonl:2: field 'pass_rate'.*not calibrated"):
        load_curriculum(str(write(tmp_path, CALIBRATED, PROPOSED)), weighted=True)


# The shapes the original's generate_deduction_abduction.py writes (calibrated: + pass_rate, samples).
CODE = BASE["solution"]
DEDUCTION = {
    "prompt": f"Given the following Python function:\n\n{CODE}\n\nWhat is the output of "
    "`double_all([1, 2])`?\nReturn ONLY the output value as a Python expression, no explanation.",
    "problem_type": "deduction",
    "dd_code": CODE,
    "dd_func_name": "double_all",
    "dd_input": "[1, 2]",
    "dd_expected": "[2, 4]",
    "source_entry_point": "double_all",
    "source_pass_rate": 0.5,
    "pass_rate": 0.25,
    "samples": 8,
}
ABDUCTION = {
    "prompt": f"Given the following Python function:\n\n{CODE}\n\nFind an input `x` such that "
    "`double_all(x) == [2, 4]`.\nReturn ONLY the input value as a Python expression, no "
    "explanation.",
    "problem_type": "abduction",
    "ab_code": CODE,
    "ab_func_name": "double_all",
    "ab_expected": "[2, 4]",
    "source_entry_point": "double_all",
    "source_pass_rate": 0.5,
}


def test_deduction_and_abduction_records_load_and_round_trip(tmp_path):
    rows = load_records(write(tmp_path, DEDUCTION, ABDUCTION), CalibratedProblem)
    for (_, record), written in zip(rows, (DEDUCTION, ABDUCTION), strict=True):
        assert record.entry_point == "double_all" and record.to_dict() == written


def test_a_deduction_record_without_its_fields_names_the_field(tmp_path):
    broken = {k: v for k, v in DEDUCTION.items() if k != "dd_input"}
    with pytest.raises(RecordError, match="original.jsonl:1: field 'dd_input' is required in a"):
        load_records(write(tmp_path, broken), CalibratedProblem)


def test_check_reports_deduction_records_as_not_checked(tmp_path, capsys):
    assert check.main([str(write(tmp_path, CALIBRATED, DEDUCTION)), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "original.jsonl:2: double_all: not checked" in out
    assert "1 deduction/abduction records not checked" in out


def test_training_takes_them_and_judges_them_by_their_type(tmp_path):
    """The original's abduction rows train beside code rows: the reward rebuilds each item from
    the dataset's `item` column and judges it as abduction (laimark.tasks.reasoning)."""
    from laimark.core.solve import SolveFormat
    from laimark.execution.sandbox import Sandbox
    from laimark.training.data import build_dataset
    from laimark.training.rewards import judge_reward

    path = write(tmp_path, CALIBRATED, ABDUCTION)
    problems = load_curriculum(str(path), weighted=False)
    assert [p.problem_type for _, p in problems] == ["code", "abduction"]
    rows = build_dataset(problems, SolveFormat()).to_list()
    assert rows[0]["item"] == "" and json.loads(rows[1]["item"])["ab_expected"] == "[2, 4]"
    columns = {k: [r[k] for r in rows[1:]] * 2 for k in ("problem_prompt", "tests", "entry_point")}
    columns.update(problem_type=["abduction"] * 2, item=[rows[1]["item"]] * 2)
    with Sandbox(workers=1) as sb:
        rewards = judge_reward(["[1, 2]", "[3]"], sandbox=sb, fmt=SolveFormat(), **columns)
    assert rewards == [1.0, 0.0]
    # the training sidecar records the mix; half and half is not warned about
    from laimark.training.data import DataConfig, load_training_problems

    _, meta = load_training_problems(DataConfig(curriculum=str(path), selfgen_only=True))
    assert meta["type_mix"] == {"code": 0.5, "abduction": 0.5} and "type_mix_warning" not in meta


def test_check_passes_an_original_curriculum(tmp_path, capsys):
    assert check.main([str(write(tmp_path, CALIBRATED)), "--workers", "1", "--min_tests", "3"]) == 0
    assert "1 records, 1 ok" in capsys.readouterr().out


# The original README's quick start, one command per stage (paths as the original's README has
# them): each must parse and build its typed config, so that it runs as written.
ORIGINAL_README = [
    ("laimark.generate_problems", ["--count", "1000"]),
    ("laimark.calibrate_problems", ["--samples", "8", "--lo", "0.2", "--hi", "0.8"]),
    ("laimark.train_grpo", ["--selfgen_only", "--num_generations", "4", "--epochs", "2"]),
    ("laimark.eval_adapter", ["--adapter", "grpo_output/final"]),
    # its newer README (the same chain, seeded)
    ("laimark.generate_problems", ["--count", "1000", "--seed", "42"]),
    (
        "laimark.calibrate_problems",
        ["--samples", "8", "--lo", "0.2", "--hi", "0.8", "--seed", "42"],
    ),
    (
        "laimark.train_grpo",
        ["--selfgen_only", "--num_generations", "4", "--epochs", "2", "--seed", "42"],
    ),
    ("laimark.eval_adapter", ["--adapter_path", "./grpo_output/final", "--seed", "42"]),
]


@pytest.mark.parametrize(("module", "argv"), ORIGINAL_README)
def test_the_original_readme_commands_build_their_configs(module, argv):
    import importlib

    from laimark.core.config import from_args
    from laimark.curriculum.stages import CalibrateConfig, GenerateConfig
    from laimark.training.stage import TrainConfig

    mod = importlib.import_module(module)
    if module == "laimark.eval_adapter":
        parser, args = mod.parse_args(argv)
        _, _, cls = mod.mode_of(args)
        assert mod.ignored_flag(parser, args, cls, None) is None
        config = from_args(cls, args)
        assert config.output in ("runs/eval/grpo_output_final.jsonl", "runs/eval/final.jsonl")
        # the adapter it names is where the README's train command (the default) writes it
        train_default = dataclasses.fields(TrainConfig)[0]
        assert train_default.name == "output_dir"
        assert Path(config.model.adapter[0]) == Path(train_default.default) / "final"
        return
    cls = {
        "laimark.generate_problems": GenerateConfig,
        "laimark.calibrate_problems": CalibrateConfig,
        "laimark.train_grpo": TrainConfig,
    }[module]
    config = from_args(cls, mod.parse_args(argv))
    if cls is CalibrateConfig:  # chains from laimark-generate's default output
        assert (config.input, config.window.n_samples) == ("runs/candidates.jsonl", 8)


# The original's other flag names: each sets what our flag of the same meaning sets.
ORIGINAL_FLAGS = [
    (
        "laimark.train_grpo",
        ["--selfgen_only", "--selfgen_file", "x.jsonl"],
        "data.curriculum",
        "x.jsonl",
    ),
    (
        "laimark.train_grpo",
        ["--selfgen_only", "--batch_size", "8"],
        "per_device_train_batch_size",
        8,
    ),
    ("laimark.train_grpo", ["--selfgen_only", "--output", "out"], "output_dir", "out"),
    ("laimark.train_grpo", ["--selfgen_only", "--lora_rank", "8"], "lora_r", 8),
    ("laimark.train_grpo", ["--selfgen_only", "--lr", "1e-5"], "learning_rate", 1e-5),
    ("laimark.eval_adapter", ["--base_model", "Qwen/Qwen3-8B"], "model.model", "Qwen/Qwen3-8B"),
    ("laimark.eval_adapter", ["--adapter_path", "a", "--no_adapter"], "model.adapter", None),
]


@pytest.mark.parametrize(("module", "argv", "field", "value"), ORIGINAL_FLAGS)
def test_the_originals_flag_names_mean_the_same(module, argv, field, value):
    import functools
    import importlib

    from laimark.core.config import from_args
    from laimark.evaluation.generate import EvalConfig
    from laimark.training.stage import TrainConfig

    mod = importlib.import_module(module)
    parsed = mod.parse_args(argv)
    args = parsed[1] if isinstance(parsed, tuple) else parsed
    if isinstance(parsed, tuple):
        assert mod.ignored_flag(parsed[0], args, EvalConfig, None) is None
    config = from_args(EvalConfig if isinstance(parsed, tuple) else TrainConfig, args)
    assert functools.reduce(getattr, field.split("."), config) == value


# sha256 of the paper format's system prompt, NUL, user template: the texts of seetrex-ai/laimark's
# SYSTEM_L2B and its solve request, as its calibrate_problems.py sends them.
PAPER_TEXTS_SHA256 = "5af64506380468883c4b40f6cf6fb9aae0397f8bfad15c0a3e2b48cf92928ba8"


def test_the_paper_format_ships_its_texts_unchanged():
    import hashlib

    from laimark.core.solve import named_formats

    spec = named_formats()["paper"]
    digest = hashlib.sha256((spec["system"] + "\0" + spec["user_template"]).encode()).hexdigest()
    assert digest == PAPER_TEXTS_SHA256 and spec["system"].endswith("/no_think")


def test_the_paper_format_asks_for_the_body_of_the_prompt_as_written():
    from laimark.core.solve import SolveFormat

    fmt = SolveFormat.make(name="paper")
    system, user = fmt.prompt(PROMPT)
    assert system["content"].startswith("Solve problems using structured algorithmic thinking.")
    assert user["content"] == (
        "Complete the following Python function. Return ONLY the function body, no explanation."
        "\n\n" + PROMPT
    )
    assert fmt.version == "laimark-paper-l2b" and fmt.assembly == "auto"


def test_full_function_with_the_paper_format_asks_as_the_originals_flag_did():
    from laimark.core.solve import SolveFormat

    fmt = SolveFormat.make(full_function=True, name="paper")
    system, user = fmt.prompt(PROMPT)
    assert (fmt.name, fmt.assembly) == ("paper-full", "function")
    assert system["content"] == SolveFormat.make(name="paper").system_prompt
    assert user["content"] == (
        "Write the complete Python function including the def line. Here is the signature and "
        "docstring:\n\n" + PROMPT + "\n\nReturn ONLY the complete function code, no explanation."
    )
    assert SolveFormat.make(full_function=True).name == "laimark"  # ours asks for it anyway


def test_a_body_only_answer_in_the_paper_format_passes(tmp_path):
    from laimark.core.records import Problem
    from laimark.core.solve import SolveFormat
    from laimark.execution.sandbox import Sandbox
    from laimark.tasks import task_type

    problem = Problem(prompt=PROMPT, tests=BASE["tests"], entry_point="double_all")
    with Sandbox(workers=1) as sandbox:
        [v] = task_type("code").judge(
            sandbox, [(problem, "    return [2 * x for x in xs]")], SolveFormat.make(name="paper")
        )
    assert v.passed, v


@pytest.mark.parametrize(
    "flag",
    [
        "--existing",
        "--calibrate_only",
        "--calibrate_adapter",
        "--allow_name_dups",
        "--proposer_only",
    ],
)
def test_the_pipelines_moved_flags_say_what_to_use(flag, capsys):
    from laimark import generate_and_calibrate_hf

    with pytest.raises(SystemExit) as stop:
        generate_and_calibrate_hf.parse_args([flag, "x.jsonl"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"{flag} is a flag of the original" in err
    assert "laimark-calibrate" in err or "laimark-generate" in err


def test_the_pipelines_max_new_tokens_is_calibrations_as_in_the_original():
    from laimark import generate_and_calibrate_hf
    from laimark.core.config import from_args
    from laimark.curriculum.stages import PipelineConfig

    args = ["--max_new_tokens", "1024", "--gen_max_new_tokens", "1500"]
    config = from_args(PipelineConfig, generate_and_calibrate_hf.parse_args(args))
    assert (config.window.max_new_tokens, config.generation.max_new_tokens) == (1024, 1500)
