"""laimark-train: GRPO with a LoRA adapter (TRL GRPOTrainer) on a calibrated curriculum.

The reward is the shared harness judging each rollout in the sandbox, with the same prompt
(`core.solve.SolveFormat`) and program assembly that calibration and evaluation use.

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
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/train_grpo.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import add_sandbox_args, run_stage, setup_logging
from laimark.core.seeds import DEFAULT_SEED
from laimark.core.solve import add_solve_args
from laimark.models.loading import DEFAULT_MODEL
from laimark.models.sampling import add_dtype_device_args, add_thinking_arg
from laimark.training.recipes import DEFAULT_RECIPE, RECIPES
from laimark.training.rewards import REWARD_MODES
from laimark.training.stage import LOSS_TYPES, TrainConfig, train


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="laimark-train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = p.add_argument_group("data")
    d.add_argument(
        "--curriculum",
        "--selfgen_file",
        default="data/calibrated_selfgen.jsonl",
        help="calibrated problems (JSONL, docs/records.md); 'none' for MBPP alone "
        "(--selfgen_file: the original's name)",
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
    m = p.add_argument_group("model")
    m.add_argument("--model", default=DEFAULT_MODEL, help="as everywhere (docs/models.md)")
    m.add_argument(
        "--base_adapter",
        metavar="DIR",
        help="start from this adapter (merged, with its own chain); it is never modified",
    )
    add_dtype_device_args(m)
    add_thinking_arg(m)
    t = p.add_argument_group(
        "GRPO (a flag left out takes the --recipe's value; docs/training.md, Recipes)"
    )
    t.add_argument(
        "--recipe",
        choices=tuple(RECIPES),
        default=DEFAULT_RECIPE,
        help="named settings: 'paper' (the original's, default) or 'small' (for 0.5-3B models: "
        "all linear layers, lr 5e-5, G=8, two prompts per step, clip-higher, groups without "
        "signal dropped, problems out of the window retired)",
    )
    t.add_argument(
        "--output_dir",
        "--output",
        default="grpo_output",
        help="the adapter, its sidecar and checkpoints; also reachable at <output_dir>/final "
        "(--output: the original's name; default: %(default)s)",
    )
    t.add_argument("--epochs", type=float)
    t.add_argument("--max_steps", type=int, default=-1, help="stop after N steps (-1: epochs)")
    t.add_argument("--num_generations", type=int, help="G, completions per prompt")
    t.add_argument(
        "--per_device_train_batch_size",
        "--batch_size",
        type=int,
        help="completions per device and step; a multiple of G (paper: 4, one prompt; small: "
        "16, two prompts; --batch_size: the original's name)",
    )
    t.add_argument("--gradient_accumulation_steps", type=int)
    t.add_argument("--learning_rate", "--lr", type=float)
    t.add_argument(
        "--lr_scheduler_type",
        help="transformers scheduler name (paper: cosine; small: constant_with_warmup)",
    )
    t.add_argument("--warmup_ratio", type=float, help="share of the steps spent warming up")
    t.add_argument("--lora_r", "--lora_rank", type=int)
    t.add_argument("--lora_alpha", type=int)
    t.add_argument("--lora_dropout", type=float)
    t.add_argument(
        "--lora_target_modules",
        nargs="+",
        help="module names, or all-linear (paper: q_proj v_proj)",
    )
    t.add_argument("--beta", type=float, help="KL coefficient (both recipes: 0.0, TRL's default)")
    t.add_argument("--loss_type", choices=LOSS_TYPES, help="TRL loss variant (both recipes: dapo)")
    t.add_argument(
        "--epsilon_high",
        type=float,
        help="upper clip of the probability ratio (paper: 0.2, TRL's; small: 0.28, DAPO's "
        "clip-higher)",
    )
    t.add_argument("--max_completion_length", type=int)
    t.add_argument("--temperature", type=float, help="rollout temperature (both recipes: 1.0)")
    t.add_argument(
        "--mask_truncated_completions",
        action=argparse.BooleanOptionalAction,
        help="leave completions cut at --max_completion_length out of the loss (DAPO)",
    )
    s = p.add_argument_group("learning signal and reward (docs/training.md)")
    s.add_argument(
        "--drop_zero_signal",
        action=argparse.BooleanOptionalAction,
        help="leave groups whose rewards are all equal out of the loss (small: on)",
    )
    s.add_argument(
        "--retire",
        action=argparse.BooleanOptionalAction,
        help="stop drawing a problem after two groups in a row all passed or all failed, "
        "from the next epoch (small: on)",
    )
    s.add_argument(
        "--reserve",
        metavar="FILE",
        help="calibrated problems that replace retired ones (problems also in training are "
        "left out)",
    )
    s.add_argument(
        "--reward",
        choices=REWARD_MODES,
        help="binary (all tests pass; both recipes), fractional (share of tests), partial "
        "(share plus a bonus for all) or random (the spurious-reward control: 1 with the "
        "problem's pass rate, whatever the answer)",
    )
    s.add_argument(
        "--partial_bonus", type=float, default=1.0, help="--reward partial's bonus (default 1)"
    )
    s.add_argument(
        "--heldout",
        metavar="FILE",
        help="problems kept out of training (candidates or calibrated JSONL; any also in "
        "training are left out) on which the diagnostics measure KL, changed answers and "
        "reward before and after",
    )
    s.add_argument(
        "--heldout_limit", type=int, default=16, help="held-out problems used (default 16)"
    )
    t.add_argument("--seed", type=int, default=DEFAULT_SEED, help="default: %(default)s")
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
    add_solve_args(p)
    add_sandbox_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_stage(train, TrainConfig, args)


if __name__ == "__main__":
    sys.exit(main())
