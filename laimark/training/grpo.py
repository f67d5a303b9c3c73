"""The library side of `laimark-train`: the adapter chain, TRL setup, the training log and plot,
and the metadata sidecar. Training problems come from `laimark.training.data`.

An adapter trained on top of earlier rounds (`--base_adapter`) is only meaningful together with
them: its sidecar `adapter.meta.json` records the chain, and `models.loading.adapter_chain(path)` returns
the folders to apply (earlier ones merged, in order); `models.loading.load_model` expands a single adapter
into its chain by itself, so every stage evaluates a later round correctly from its folder alone.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from laimark.models.loading import adapter_sha256, read_adapter_meta
from laimark.models.sampling import chat_template_kwargs
from laimark.training.rewards import make_reward
from laimark.training.signal import (
    SignalSettings,
    SignalTracker,
    signal_state_callback,
    signal_trainer_class,
)

if TYPE_CHECKING:  # training.stage imports this module
    from laimark.training.stage import TrainConfig

log = logging.getLogger(__name__)

LOG_NAME = "train_log.jsonl"


# ---------------------------------------------------------------- TRL
def checkpointing_flag(config_class) -> str:
    """Recent transformers name it `activation_checkpointing` (the old name is deprecated);
    the transformers that vLLM's CPU build pins (< 5.20) knows only `gradient_checkpointing`."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_class)}
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )


def grpo_setup(cfg: TrainConfig, out: Path, loaded, dataset, sandbox, *, on_cpu: bool):
    """GRPOConfig, LoRA config, reward and callbacks -> (trainer, SignalTracker).

    `cfg` is the stage's typed config, its recipe already applied. The trainer is TRL's
    GRPOTrainer with `training.signal`'s mixin (zero-signal groups dropped, problems retired,
    each only if the config asks for it).
    """
    import importlib.util

    import torch
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    dtype = loaded.identity.get("dtype")
    use_vllm = not cfg.no_vllm and (
        cfg.use_vllm or (importlib.util.find_spec("vllm") is not None and torch.cuda.is_available())
    )
    vllm_mode = cfg.vllm_mode or "colocate"
    log.info("generation with %s", f"vLLM ({vllm_mode})" if use_vllm else "transformers")
    config = GRPOConfig(
        output_dir=str(out),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_ratio,  # below 1: a share of the steps
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.beta,
        loss_type=cfg.loss_type,
        epsilon_high=cfg.epsilon_high,
        mask_truncated_completions=cfg.mask_truncated_completions,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        report_to="none",
        use_cpu=on_cpu,
        bf16=not on_cpu and dtype == "bf16",
        fp16=not on_cpu and dtype == "fp16",
        **{checkpointing_flag(GRPOConfig): not cfg.no_gradient_checkpointing},
        use_vllm=use_vllm,
        vllm_mode=vllm_mode,
        disable_tqdm=False,  # a person waits on this loop
        chat_template_kwargs=chat_template_kwargs(cfg.thinking == "on"),
    )
    targets = cfg.lora_target_modules
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules="all-linear" if targets == ["all-linear"] else targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    g = cfg.num_generations
    reward = make_reward(
        sandbox, cfg.solve, mode=cfg.reward, partial_bonus=cfg.partial_bonus, seed=cfg.seed
    )
    # Two groups in a row that all passed or all failed: the problem left the window.
    tracker = SignalTracker(reward, g, retire_after=2 * g if cfg.retire else 0)
    trainer = signal_trainer_class(GRPOTrainer)(
        model=loaded.model,
        reward_funcs=tracker,
        args=config,
        train_dataset=dataset,
        processing_class=loaded.tokenizer,
        peft_config=lora,
        callbacks=[train_log_callback(out / LOG_NAME), signal_state_callback(tracker)],
    )
    # The sampler is laimark's whether or not problems retire: it is seeded per epoch, so a run
    # resumed in a later epoch draws what the interrupted one would have (TRL's is seeded once).
    trainer.signal = SignalSettings(tracker, drop_zero_signal=cfg.drop_zero_signal)
    return trainer, tracker


def adapter_dtypes(model) -> list[str]:
    """The dtypes of the trainable (adapter) parameters: fp32 keeps small updates."""
    return sorted(
        {str(p.dtype).removeprefix("torch.") for p in model.parameters() if p.requires_grad}
    )


def train_log_callback(path: Path):
    """A TrainerCallback appending one JSON line per step: reward mean and spread, share of
    groups without signal, KL, loss, seconds. On resume, lines past the checkpoint are dropped
    (those steps run again)."""
    from transformers import TrainerCallback

    class TrainLog(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            rows = read_log(path)
            path.write_text(
                "".join(json.dumps(r) + "\n" for r in rows if r["step"] <= state.global_step)
            )

        def on_step_begin(self, args, state, control, **kwargs):
            self.began = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "reward" not in logs:  # the end-of-training summary goes to the sidecar
                return
            row = {
                "step": state.global_step,
                "epoch": state.epoch,
                "seconds": round(time.perf_counter() - self.began, 3),
                "reward": logs.get("reward"),
                "reward_std": logs.get("reward_std"),
                "zero_signal_frac": logs.get("zero_signal_frac"),
                "kl": logs.get("kl"),
                "loss": logs.get("loss"),
            }
            row.update(
                {k: v for k, v in logs.items() if k not in row and isinstance(v, (int, float))}
            )
            with open(path, "a") as f:
                f.write(json.dumps(row) + "\n")

    return TrainLog()


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_rewards(rows: list[dict], png: Path) -> None:
    """Reward mean (band: one std) and the share of groups without signal, per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    mean = [r["reward"] for r in rows]
    std = [r.get("reward_std") or 0.0 for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, mean, marker=".", label="reward mean")
    low = [max(0.0, m - s) for m, s in zip(mean, std, strict=True)]  # rewards lie in [0, 1]
    high = [min(1.0, m + s) for m, s in zip(mean, std, strict=True)]
    ax.fill_between(steps, low, high, alpha=0.2, label="± std")
    ax.plot(steps, [r.get("zero_signal_frac") for r in rows], "--", label="groups without signal")
    ax.set(xlabel="step", ylabel="reward / share", ylim=(-0.05, 1.05), title=png.parent.name)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def record_outputs(
    run, cfg: TrainConfig, out: Path, trainer, tracker, result, chain, data_meta, extra: dict
) -> None:
    """Everything needed to trust and reuse the adapter, into the run's sidecar; the reward plot.

    The keys other code reads (`chain`, `apply`, `contaminated`; see `models.loading.adapter_chain`)
    keep the names earlier sidecars used.
    """
    import resource

    rows = read_log(out / LOG_NAME)
    if rows:
        plot_rewards(rows, out / "reward.png")
    config = trainer.args.to_dict()
    inherited = []
    for p in chain:
        if read_adapter_meta(p).get("contaminated"):
            inherited.append(f"base adapter {p} is contaminated")
    why = data_meta["contaminated"] + inherited
    step_seconds = [r["seconds"] for r in rows]
    run.record(
        contaminated=bool(why),
        contamination=why,
        adapter={"path": str(out), "sha256": adapter_sha256(out)},
        chain=[{"path": str(Path(p).resolve()), "sha256": adapter_sha256(p)} for p in chain],
        apply=[str(Path(p).resolve()) for p in chain] + [str(out)],
        data=data_meta,
        reward={"mode": cfg.reward, "chat": cfg.solve.chat, "partial_bonus": cfg.partial_bonus},
        recipe={"name": cfg.recipe, "overrides": cfg.overrides},
        signal={
            "drop_zero_signal": cfg.drop_zero_signal,
            "dropped_rows": tracker.dropped_rows,
            "rows": tracker.seen_rows,
            "retired": sorted(tracker.retired),
            "running_pass_rates": tracker.running_pass_rates(),
        },
        **extra,
        grpo={k: config[k] for k in _GRPO_KEYS},
        implicit_trl_defaults={k: config.get(k) for k in _IMPLICIT_TRL},
        grpo_config=config,
        counts={
            "steps": trainer.state.global_step,
            "seconds_per_step": round(sum(step_seconds) / len(step_seconds), 2) if rows else None,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "final_reward": rows[-1]["reward"] if rows else None,
            "zero_signal_frac_mean": _mean([r.get("zero_signal_frac") for r in rows]),
            "train_metrics": result.metrics,
            "reward_calls": len(tracker.history),
            "rollouts": sum(e["groups"] for e in tracker.history) * cfg.num_generations,
        },
    )


_GRPO_KEYS = (
    "num_generations",
    "learning_rate",
    "beta",
    "loss_type",
    "max_completion_length",
    "temperature",
    "num_train_epochs",
    "lr_scheduler_type",
    "warmup_steps",
    "use_vllm",
    "chat_template_kwargs",
    "epsilon_high",
    "mask_truncated_completions",
)


def _mean(values):
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


# GRPO knobs neither the paper nor the original code set: TRL's defaults, recorded as such.
_IMPLICIT_TRL = (
    "scale_rewards",
    "epsilon",
    "num_iterations",
    "top_p",
    "top_k",
    "repetition_penalty",
    "importance_sampling_level",
    "max_grad_norm",
    "weight_decay",
    "optim",
    "adam_beta1",
    "adam_beta2",
)
