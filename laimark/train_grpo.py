"""laimark-train: GRPO with a LoRA adapter (TRL GRPOTrainer) on a calibrated curriculum.

The reward is the shared harness judging each rollout in the sandbox, with the same prompt
(`prompts.solve_prompt`) and program assembly that calibration and evaluation use.

    laimark-train --selfgen_only --output_dir runs/r1                  # the paper's headline run
    laimark-train --selfgen_only --base_adapter runs/r1 --output_dir runs/r2   # a second round
    laimark-train --mbpp mbpp.jsonl --output_dir runs/curated         # curriculum + MBPP baseline
    laimark-train --selfgen_only --output_dir runs/r1 --resume        # continue a killed run

--output_dir receives the PEFT adapter, its sidecar `adapter.meta.json` (arguments, defaults
including TRL's, model identity, the adapter chain, data hashes), `train_log.jsonl`, `reward.png`
and `checkpoint-N/` folders. See docs/training.md for every flag.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from laimark.core.cli import (
    EXIT_FAILED,
    EXIT_OK,
    add_sandbox_args,
    make_sandbox,
    setup_logging,
    usage_error,
)
from laimark.models.loading import DEFAULT_MODEL, DTYPES, ModelError

log = logging.getLogger("laimark.train")

# Flags that may change when a run is resumed; all others must match the interrupted run.
RESUME_FREE = {"resume", "verbose", "sandbox", "workers", "timeout", "memory_mb"}


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="laimark-train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = p.add_argument_group("data")
    d.add_argument(
        "--curriculum",
        default="data/calibrated_selfgen.jsonl",
        help="calibrated problems (JSONL, docs/records.md); 'none' for MBPP alone",
    )
    d.add_argument(
        "--selfgen_only",
        action="store_true",
        help="train on the curriculum alone (the paper's headline configuration)",
    )
    d.add_argument(
        "--mbpp",
        metavar="PATH|hub",
        help="curated baseline: MBPP in its public JSONL format, or 'hub' (datasets)",
    )
    d.add_argument(
        "--mbpp_split", help="split for --mbpp hub (default test, the split the original used)"
    )
    d.add_argument(
        "--train_on_humaneval",
        action="store_true",
        help="ALSO train on HumanEval (the original curated run). Marks every output "
        "contaminated: HumanEval scores of the result are then meaningless",
    )
    d.add_argument(
        "--weighted",
        action="store_true",
        help="repeat curriculum problems by "
        "closeness of pass_rate to 0.5: max(1, round(3*(1-2|p-0.5|))) copies",
    )
    d.add_argument(
        "--raw_completion",
        action="store_true",
        help="raw prompt, body completion (default: chat template, whole function)",
    )
    d.add_argument(
        "--system_prompt",
        default=None,
        help="system message (default: the shared solve prompt's); '' for none",
    )
    m = p.add_argument_group("model")
    m.add_argument("--model", default=DEFAULT_MODEL, help="as everywhere (docs/models.md)")
    m.add_argument(
        "--base_adapter",
        metavar="DIR",
        help="start from this adapter (merged, with its own chain); it is never modified",
    )
    m.add_argument("--dtype", choices=DTYPES, default="bf16", help="default: %(default)s")
    m.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    t = p.add_argument_group("GRPO (defaults: the paper; see docs/training.md)")
    t.add_argument("--output_dir", default="runs/grpo")
    t.add_argument("--epochs", type=float, default=2.0)
    t.add_argument("--max_steps", type=int, default=-1, help="stop after N steps (-1: epochs)")
    t.add_argument("--num_generations", type=int, default=4, help="G, completions per prompt")
    t.add_argument(
        "--per_device_train_batch_size",
        type=int,
        default=4,
        help="completions per device and step; a multiple of G (default 4: 1 prompt)",
    )
    t.add_argument("--gradient_accumulation_steps", type=int, default=1)
    t.add_argument("--learning_rate", "--lr", type=float, default=5e-6)
    t.add_argument("--lora_r", "--lora_rank", type=int, default=16)
    t.add_argument("--lora_alpha", type=int, default=32)
    t.add_argument("--lora_dropout", type=float, default=0.05)
    t.add_argument("--lora_target_modules", nargs="+", default=["q_proj", "v_proj"])
    t.add_argument("--beta", type=float, default=0.0, help="KL coefficient (TRL default 0.0)")
    t.add_argument(
        "--loss_type",
        default="dapo",
        choices=("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo"),
        help="TRL loss variant (TRL default dapo)",
    )
    t.add_argument("--max_completion_length", type=int, default=1024)
    t.add_argument("--temperature", type=float, default=1.0, help="rollout temperature (TRL's)")
    t.add_argument(
        "--reward",
        choices=("binary", "fractional"),
        default="binary",
        help="1.0 if all tests pass, or the share of asserts passed",
    )
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--save_steps", type=int, default=25, help="checkpoint every N steps")
    t.add_argument(
        "--resume",
        nargs="?",
        const="last",
        metavar="CHECKPOINT",
        help="continue from the last checkpoint in --output_dir (or the one given); "
        "starts at step 0 if there is none yet",
    )
    t.add_argument(
        "--no_gradient_checkpointing",
        action="store_true",
        help="faster, more memory (TRL enables checkpointing by default)",
    )
    v = t.add_mutually_exclusive_group()
    v.add_argument(
        "--no_vllm",
        action="store_true",
        help="generate with transformers even where vLLM is usable",
    )
    v.add_argument(
        "--use_vllm",
        action="store_true",
        help="require vLLM (default: used when CUDA and vllm are both present)",
    )
    t.add_argument(
        "--vllm_mode",
        choices=("colocate", "server"),
        help="vLLM inside the training process (default) or a `trl vllm-serve` server",
    )
    p.add_argument("--verbose", action="store_true")
    add_sandbox_args(p)
    return p.parse_args(argv)


def check_args(args) -> str | None:
    """The first usage problem, as a message, or None. Runs before anything heavy."""
    return _check_data(args) or _check_generation(args) or _check_output(args)


def _check_data(args) -> str | None:
    if args.selfgen_only and (args.mbpp or args.train_on_humaneval):
        return "--selfgen_only trains on the curriculum alone: drop --mbpp/--train_on_humaneval"
    curated = args.mbpp or args.train_on_humaneval
    if args.curriculum == "none" and not curated:
        return "--curriculum none leaves nothing to train on: add --mbpp (or --train_on_humaneval)"
    if not args.selfgen_only and not curated:
        return "give --selfgen_only (the curriculum alone) or a curated set: --mbpp FILE|hub"
    if args.weighted and args.curriculum == "none":
        return "--weighted weights curriculum problems by pass_rate; there is no curriculum"
    if args.mbpp_split is not None and args.mbpp != "hub":
        return "--mbpp_split only applies to --mbpp hub (a local file is used whole)"
    if args.raw_completion and args.system_prompt is not None:
        return "--system_prompt needs the chat template; --raw_completion sends the bare prompt"
    return None


def _check_generation(args) -> str | None:
    g = args.num_generations
    if g < 2:
        return "--num_generations must be at least 2 (GRPO compares completions of a prompt)"
    if args.per_device_train_batch_size % g:
        return (
            f"--per_device_train_batch_size {args.per_device_train_batch_size} must be a "
            f"multiple of --num_generations {g}"
        )
    if args.use_vllm and not _vllm_usable():
        return "--use_vllm needs a CUDA GPU and vllm (pip install -e '.[vllm]')"
    if args.vllm_mode and (args.no_vllm or not (args.use_vllm or _vllm_usable())):
        return "--vllm_mode applies to vLLM generation, which this run does not use"
    return None


def _check_output(args) -> str | None:
    out = Path(args.output_dir).resolve()
    if args.base_adapter:
        start = Path(args.base_adapter).resolve()
        if out == start or start in out.parents or out in start.parents:
            return (
                f"--output_dir {out} would write into or around --base_adapter {start}; "
                "a new round needs its own folder"
            )
    if out.exists() and not out.is_dir():
        return f"--output_dir {out} is a file"
    # run_args.json alone is left by a run that stopped before training (e.g. a wrong --model).
    started = out.is_dir() and any(p.name != "run_args.json" for p in out.iterdir())
    if args.resume is None and started:
        return (
            f"{out} exists and is not empty: pass --resume to continue it, or another --output_dir"
        )
    if (
        args.resume not in (None, "last")
        and not (Path(args.resume) / "trainer_state.json").is_file()
    ):
        return f"--resume {args.resume}: not a checkpoint folder (no trainer_state.json)"
    return None


def _vllm_usable() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _checkpoints(out: Path) -> list[Path]:
    found = [p for p in out.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def check_resume(args, out: Path) -> str | None:
    """Refuse to resume a run with different training flags; record them on a fresh start
    (which --resume is too when there is no checkpoint yet)."""
    mine = {k: v for k, v in vars(args).items() if k not in RESUME_FREE}
    path = out / "run_args.json"
    continuing = args.resume not in (None, "last") or (args.resume and _checkpoints(out))
    if continuing and path.is_file():
        before = json.loads(path.read_text())
        diff = sorted(k for k in set(mine) | set(before) if mine.get(k) != before.get(k))
        if diff:
            return f"--resume with different flags than the interrupted run: {', '.join(diff)}"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mine, indent=1) + "\n")
    return None


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    if problem := check_args(args):
        return usage_error(problem)
    from laimark.core.records import RecordError
    from laimark.training.data import load_training_problems
    from laimark.training.grpo import adapter_chain

    try:
        problems, data_meta = load_training_problems(args)
        chain = adapter_chain(args.base_adapter) if args.base_adapter else []
    except (RecordError, ModelError) as e:
        return usage_error(str(e))
    out = Path(args.output_dir).resolve()
    if problem := check_resume(args, out):
        return usage_error(problem)
    try:
        return _train(args, out, problems, data_meta, chain)
    except ModelError as e:
        return usage_error(str(e))
    except Exception:
        log.exception("training failed; rerun with --resume to continue from the last checkpoint")
        return EXIT_FAILED


def _train(args, out: Path, problems, data_meta: dict, chain: list[str]) -> int:
    from transformers import set_seed

    from laimark.models.loading import adapter_sha256, load_model
    from laimark.training.data import build_dataset
    from laimark.training.grpo import grpo_setup, write_outputs

    set_seed(args.seed)  # before the LoRA weights are initialised
    start_hashes = {p: adapter_sha256(p) for p in chain}
    device = "cpu" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else args.device
    loaded = load_model(args.model, chain or None, dtype=args.dtype, device=device, merge=True)
    dataset = build_dataset(
        problems, chat=not args.raw_completion, system_prompt=args.system_prompt
    )
    began = time.time()
    with make_sandbox(args) as sandbox:
        trainer, tracker = grpo_setup(args, out, loaded, dataset, sandbox)
        resume = None if args.resume is None else (True if args.resume == "last" else args.resume)
        if resume is True and not _checkpoints(out):
            # Killed before its first checkpoint (or never started): nothing to continue from,
            # so scripts can always pass --resume.
            log.warning("--resume: no checkpoint in %s yet: training starts at step 0", out)
            resume = None
        result = trainer.train(resume_from_checkpoint=resume)
        trainer.save_model(str(out))
        sandbox_info = sandbox.describe()
    for path, sha in start_hashes.items():  # a promise of this stage: check it, loudly
        if adapter_sha256(path) != sha:
            log.error("the starting adapter %s changed during training", path)
            return EXIT_FAILED
    write_outputs(
        args,
        out,
        loaded,
        trainer,
        tracker,
        result,
        chain,
        data_meta,
        sandbox_info,
        time.time() - began,
    )
    log.info("adapter, adapter.meta.json, train_log.jsonl and reward.png written to %s", out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
