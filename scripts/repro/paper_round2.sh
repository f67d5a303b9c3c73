#!/usr/bin/env bash
# Paper row "second round" (paper: 76.8, no gain over round 1), as the paper describes it: the
# round-1 policy (the G=4 adapter) writes new problems and calibrates them against itself, names
# of round-1 problems excluded; a second adapter then trains on them on top of round 1. The
# round-1 adapter is never modified. Runs paper_grpo_g4.sh first if needed.
source "$(dirname "$0")/gpu_common.sh"
[ -e "$OUT/grpo_g4/adapter/adapter.meta.json" ] || bash "$(dirname "$0")/paper_grpo_g4.sh"
mkdir -p "$OUT/round2"
if dry_run; then
  : > "$OUT/round2/round1_names.txt"  # so that the parsed command's pre-flight check finds it
else
  "$BIN/python" -c 'import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.loads(line)["entry_point"])' "$OUT/curriculum/calibrated.jsonl" > "$OUT/round2/round1_names.txt"
fi
calibrated_curriculum "$OUT/round2" --adapter "$OUT/grpo_g4/adapter" \
  --exclude_names "$OUT/round2/round1_names.txt"
stage "train round 2" "$OUT/round2/adapter/adapter.meta.json" \
  "$BIN/laimark-train" --selfgen_only --curriculum "$OUT/round2/calibrated.jsonl" \
  --base_adapter "$OUT/grpo_g4/adapter" "${TRAIN_FLAGS[@]}" --output_dir "$OUT/round2/adapter"
# The round-2 adapter records its chain: evaluating it applies round 1 first.
evaluate round2 --adapter "$OUT/round2/adapter"
