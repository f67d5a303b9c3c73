#!/usr/bin/env bash
# Paper row "GRPO, G=4" (the headline: 76.8 from 63.4): as paper_grpo_g2.sh with 4 completions per
# problem. Needs one 80 GB GPU (A100/H100). Several GPUs: see docs/training.md (accelerate launch).
source "$(dirname "$0")/gpu_common.sh"
curriculum
stage "train G=4" "$OUT/grpo_g4/adapter/adapter.meta.json" \
  "$BIN/laimark-train" --selfgen_only --curriculum "$OUT/curriculum/calibrated.jsonl" \
  --num_generations 4 "${TRAIN_FLAGS[@]}" --output_dir "$OUT/grpo_g4/adapter"
evaluate grpo_g4 --adapter "$OUT/grpo_g4/adapter"
