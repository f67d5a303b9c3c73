#!/usr/bin/env bash
# Paper row "second round" (paper: 76.8, no gain over round 1): recalibrate the round-1 curriculum
# against the G=4 adapter (problems it now always solves leave the window), then train a second
# adapter on top of it. The round-1 adapter is never modified. Runs paper_grpo_g4.sh first if needed.
source "$(dirname "$0")/gpu_common.sh"
[ -e "$OUT/grpo_g4/adapter/adapter.meta.json" ] || bash "$(dirname "$0")/paper_grpo_g4.sh"
mkdir -p "$OUT/round2"
stage "recalibrate against the round-1 adapter" "$OUT/round2/calibrated.jsonl.meta.json" \
  "$BIN/laimark-calibrate" --model "$MODEL" --adapter "$OUT/grpo_g4/adapter" \
  --input "$OUT/curriculum/calibrated.jsonl" --output "$OUT/round2/calibrated.jsonl" \
  --samples 8 --max_new_tokens 1024 --seed 1 --resume
stage "train round 2" "$OUT/round2/adapter/adapter.meta.json" \
  "$BIN/laimark-train" --selfgen_only --curriculum "$OUT/round2/calibrated.jsonl" \
  --base_adapter "$OUT/grpo_g4/adapter" "${TRAIN_FLAGS[@]}" --output_dir "$OUT/round2/adapter"
# The round-2 adapter records its chain: evaluating it applies round 1 first.
evaluate round2 --adapter "$OUT/round2/adapter"
