"""Training recipes: named sets of GRPO and LoRA settings (`laimark-train --recipe NAME`).

A recipe fills every setting the command line leaves out; a flag given explicitly wins, and the
sidecar records the recipe's name, every resolved value and which ones the command line changed.
The sources of each value are in docs/training.md ("Recipes").

* `paper`: the original LAIMARK's settings (its `train_grpo.py` defaults), for reproducing the
  paper. On a small model it hardly moves the policy: lr 5e-6 for a few dozen steps on q/v only.
* `small`: for models of about 0.5-3B, from the published evidence that LoRA-GRPO learns at that
  size: all linear layers, lr 5e-5 constant after a short warm-up (LoRA's best lr is about 10x full
  fine-tuning's), G=8, two prompts per step, DAPO's clip-higher and truncation masking, no KL term,
  groups without signal dropped and problems that leave the learnability window retired.
"""

from __future__ import annotations

from types import MappingProxyType

_PAPER = {
    "epochs": 2.0,
    "num_generations": 4,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "learning_rate": 5e-6,
    "lr_scheduler_type": "cosine",
    "warmup_ratio": 0.1,
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "lora_target_modules": ["q_proj", "v_proj"],
    "beta": 0.0,
    "loss_type": "dapo",
    "epsilon_high": 0.2,  # TRL's default: the same as the lower clip, i.e. no clip-higher
    "max_completion_length": 1024,
    "temperature": 1.0,
    "mask_truncated_completions": False,
    "drop_zero_signal": False,
    "retire": False,
    "reward": "binary",
}

_SMALL = {
    **_PAPER,
    "epochs": 4.0,
    "num_generations": 8,
    "per_device_train_batch_size": 16,  # two prompts per step
    "learning_rate": 5e-5,
    "lr_scheduler_type": "constant_with_warmup",
    "warmup_ratio": 0.05,
    "lora_dropout": 0.0,
    "lora_target_modules": ["all-linear"],
    "epsilon_high": 0.28,
    "max_completion_length": 512,
    "mask_truncated_completions": True,
    "drop_zero_signal": True,
    "retire": True,
}

RECIPES = MappingProxyType({"paper": MappingProxyType(_PAPER), "small": MappingProxyType(_SMALL)})
DEFAULT_RECIPE = "paper"  # train_grpo.py's, for fidelity; the main job and experiments pass small


def recipe_values(name: str) -> dict:
    """A fresh copy of recipe `name`'s settings (lists copied, so callers may keep them)."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return {k: list(v) if isinstance(v, list) else v for k, v in RECIPES[name].items()}
