"""The one run mechanism (core.runs.Run) and typed configs (core.config), one property per test."""

import argparse
import json
from dataclasses import dataclass

import pytest

from laimark.core.config import ConfigError, check, flags_of, from_args, nested, to_dict
from laimark.core.runs import SCHEMA, Run, RunError
from laimark.core.solve import SolveFormat, solve_format_of
from laimark.execution.sandbox import SandboxConfig


@dataclass(frozen=True)
class StageConfig:
    output: str = "out.jsonl"
    seed: int = 0
    count: int = 5
    solve: SolveFormat = nested(solve_format_of, SolveFormat)
    sandbox: SandboxConfig = nested(SandboxConfig)

    def __post_init__(self):
        check(self.count >= 1, "--count must be >= 1")


def ns(**kw):
    base = dict(output="out.jsonl", seed=0, count=5, raw=False, system_prompt=None)
    base |= dict(solve_format="laimark")
    base |= dict(full_function=False, sandbox="process", workers=1, timeout=5.0, memory_mb=512)
    return argparse.Namespace(**(base | kw))


def open_run(tmp_path, resume=False, **kw):
    config = from_args(StageConfig, ns(**kw))
    return Run("laimark-test", tmp_path / "out.jsonl", config, resume=resume, free=("count",))


def test_config_is_built_from_the_flags_with_its_sub_configs():
    config = from_args(StageConfig, ns(seed=3, raw=True, workers=2))
    assert config.seed == 3 and config.solve.chat is False and config.solve.assembly == "body"
    assert config.sandbox.workers == 2 and config.sandbox.sandbox == "process"


def test_config_refuses_a_bad_value_naming_the_flag():
    with pytest.raises(ConfigError, match="--count must be >= 1"):
        from_args(StageConfig, ns(count=0))
    with pytest.raises(ConfigError, match="--full_function and --solve_format need the chat"):
        from_args(StageConfig, ns(raw=True, full_function=True))


def test_flags_of_lists_every_flag_a_config_reads():
    assert flags_of(StageConfig) == {
        "output", "seed", "count", "raw", "system_prompt", "full_function", "solve_format",
        "sandbox", "workers", "timeout", "memory_mb",
    }  # fmt: skip


def test_sidecar_has_the_one_schema(tmp_path):
    run = open_run(tmp_path)
    run.record(counts={"written": 2})
    meta = json.loads(run.finish(work_seconds=1.5).read_text())
    assert meta["schema"] == SCHEMA and meta["command"] == "laimark-test"
    assert meta["status"] == "complete" and meta["sessions"] == 1 and meta["finished"]
    assert meta["config"] == to_dict(from_args(StageConfig, ns())) and meta["seed"] == 0
    assert meta["work_seconds"] == 1.5 and meta["wall_seconds"] >= 0
    assert meta["versions"]["laimark"] and meta["counts"] == {"written": 2}


def test_existing_output_is_never_touched_without_resume(tmp_path):
    (tmp_path / "out.jsonl").write_text('{"a": 1}\n')
    with pytest.raises(RunError, match="already exists; pass --resume"):
        open_run(tmp_path)
    assert (tmp_path / "out.jsonl").read_text() == '{"a": 1}\n'


def test_an_empty_output_is_not_a_run(tmp_path):
    (tmp_path / "out.jsonl").write_text("")
    assert not open_run(tmp_path).resumed


def test_resume_with_other_settings_lists_each_difference(tmp_path):
    open_run(tmp_path).finish()
    (tmp_path / "out.jsonl").write_text('{"a": 1}\n')
    with pytest.raises(RunError, match=r"--seed 0 -> 7, --assembly 'auto' -> 'function'"):
        open_run(tmp_path, resume=True, seed=7, full_function=True)


def test_resume_may_change_free_and_sandbox_settings(tmp_path):
    open_run(tmp_path).finish()
    (tmp_path / "out.jsonl").write_text('{"a": 1}\n')
    run = open_run(tmp_path, resume=True, count=50, workers=2, timeout=9.0)
    assert run.resumed


def test_resume_without_a_sidecar_is_refused(tmp_path):
    (tmp_path / "out.jsonl").write_text('{"a": 1}\n')
    with pytest.raises(RunError, match="has no sidecar"):
        open_run(tmp_path, resume=True)


def test_sessions_and_wall_time_add_up_over_resumes(tmp_path):
    first = open_run(tmp_path)
    first.record(model={"name": "m", "sha256": "a", "adapters": []})
    wall = json.loads(first.finish().read_text())["wall_seconds"]
    (tmp_path / "out.jsonl").write_text('{"a": 1}\n')
    meta = json.loads(open_run(tmp_path, resume=True).finish().read_text())
    assert meta["sessions"] == 2 and meta["wall_seconds"] >= wall
    assert meta["model"]["name"] == "m"  # kept from the first session


def test_resume_with_other_model_weights_is_refused(tmp_path):
    first = open_run(tmp_path)
    first.check_model({"name": "m", "sha256": "a", "adapters": []})
    first.finish()
    (tmp_path / "out.jsonl").write_text('{"a": 1}\n')
    with pytest.raises(RunError, match="another model"):
        open_run(tmp_path, resume=True).check_model({"name": "m", "sha256": "b", "adapters": []})


def test_engines_are_listed_and_evaluation_refuses_to_mix_them(tmp_path):
    model = {"name": "m", "sha256": "a", "adapters": []}
    first = open_run(tmp_path)
    first.check_model(model | {"backend": "transformers 5.25.0"})
    first.finish()
    (tmp_path / "out.jsonl").write_text('{"a": 1}\n')
    curriculum = open_run(tmp_path, resume=True)  # a curriculum stage may change engine
    curriculum.check_model(model | {"backend": "openvino-genai 2026.4.1.0"})
    meta = json.loads(curriculum.finish().read_text())
    assert meta["engines"] == ["openvino-genai 2026.4.1.0", "transformers 5.25.0"]
    with pytest.raises(RunError, match="sampled with openvino-genai.*--backend it used"):
        open_run(tmp_path, resume=True).check_model(
            model | {"backend": "transformers 5.25.0"}, same_engine=True
        )
    same = open_run(tmp_path, resume=True)
    same.check_model(model | {"backend": "openvino-genai 2026.4.1.0"}, same_engine=True)


def test_docstring_examples_of_the_shared_pieces_run():
    import doctest

    from laimark.core import seeds, solve
    from laimark.evaluation import generate

    for module in (solve, seeds, generate):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_a_field_added_since_the_sidecar_was_written_reads_as_its_default(tmp_path):
    """A run started by an older laimark resumes unless a field it lacks is set off its default."""
    meta_path = open_run(tmp_path).finish()
    meta = json.loads(meta_path.read_text())
    del meta["config"]["seed"], meta["config"]["solve"]["assembly"]
    meta_path.write_text(json.dumps(meta))
    (tmp_path / "out.jsonl").write_text('{"a": 1}\n')
    assert open_run(tmp_path, resume=True).resumed
    with pytest.raises(RunError, match=r"--seed 0 -> 7, --assembly 'auto' -> 'function'"):
        open_run(tmp_path, resume=True, seed=7, full_function=True)
