#!/usr/bin/env bash
# The CPU experiment (docs/experimental-results.md): the embedded Qwen2.5-Coder-0.5B-Instruct
# against itself after GRPO on its own calibrated curriculum, on the full HumanEval, greedy.
#   1. curriculum: scripts/make_curriculum.sh (the embedded model writes execution-labelled
#      problems and is calibrated against itself until 60 are in the window, 15% more held out),
#      shipped as data/calibrated_selfgen.jsonl           [skipped if its sidecar exists]
#   2. the base model on HumanEval    -> data/results/base_qwen0.5b_greedy/
#   3. per seed in $SEEDS: GRPO + LoRA (the paper's settings, completions of up to 512 tokens as in
#      calibration and evaluation) -> runs/cpu_grpo_seedS/adapter, then HumanEval with it
#      -> data/results/cpu_grpo_seedS/
#   4. both answer files judged again by the current harness (seconds), the paired comparison,
#      and the tables (scripts/make_tables.py).
# Every step resumes: rerun the script after an interruption. On 2 CPU cores: about 3 h for the
# curriculum, 13 min per HumanEval run and about a minute per GRPO step; run it in the background:
#   nohup flock /tmp/laimark-heavy.lock bash scripts/repro/cpu_experiment.sh > cpu_experiment.log 2>&1 &
source "$(dirname "$0")/lib.sh"
MODEL=qwen2.5-coder-0.5b-instruct
SEEDS="${SEEDS:-42}"
STEPS="${STEPS:--1}"     # -1: the paper's 2 epochs over the curriculum
RUNS="${LAIMARK_OUT:-runs}"                  # adapters and checkpoints (large, not committed)
RESULTS="${LAIMARK_RESULTS:-data/results}"   # what the tables are made from (committed)
CURRICULUM=data/calibrated_selfgen.jsonl
BASE="$RESULTS/base_qwen0.5b_greedy/base_qwen0.5b_greedy.jsonl"
EVAL_FLAGS=(--model "$MODEL" --max_new_tokens 512 --batch_size 8 --seed 0 --resume)

if [ ! -e "$CURRICULUM.meta.json" ]; then
  if dry_run; then
    echo "DRY sh scripts/make_curriculum.sh"
  else
    sh scripts/make_curriculum.sh  # writes $CURRICULUM and its sidecar when complete
  fi
fi
if [ -e "$CURRICULUM" ] || ! dry_run; then
  "$BIN/laimark-check" "$CURRICULUM"
fi

mkdir -p "$(dirname "$BASE")"
stage "HumanEval, base" "$BASE.meta.json" "$BIN/laimark-eval" "${EVAL_FLAGS[@]}" --output "$BASE"
for seed in $SEEDS; do
  run="$RUNS/cpu_grpo_seed$seed" keep="$RESULTS/cpu_grpo_seed$seed"
  mkdir -p "$keep"
  stage "GRPO, seed $seed" "$run/adapter/adapter.meta.json" \
    "$BIN/laimark-train" --selfgen_only --model "$MODEL" --curriculum "$CURRICULUM" \
    --max_completion_length 512 --max_steps "$STEPS" --seed "$seed" \
    --output_dir "$run/adapter" --resume
  if ! dry_run; then
    cp "$run/adapter/adapter.meta.json" "$run/adapter/train_log.jsonl" "$run/adapter/reward.png" "$keep/"
    # The adapter itself (4 MB) too, so that anyone can evaluate it again without training.
    mkdir -p "$keep/adapter"
    cp "$run/adapter/adapter_model.safetensors" "$run/adapter/adapter_config.json" \
      "$run/adapter/adapter.meta.json" "$keep/adapter/"
  fi
  stage "HumanEval, GRPO seed $seed" "$keep/eval_trained.jsonl.meta.json" \
    "$BIN/laimark-eval" "${EVAL_FLAGS[@]}" --adapter "$run/adapter" --output "$keep/eval_trained.jsonl"
done

dry_run && exit 0
# Judge both sides with the same (current) harness, so that a difference is the model's.
"$BIN/laimark-eval" --samples "$BASE"
for seed in $SEEDS; do
  keep="$RESULTS/cpu_grpo_seed$seed"
  "$BIN/laimark-eval" --samples "$keep/eval_trained.jsonl"
  "$BIN/laimark-eval" --compare "${BASE}_results.jsonl" "$keep/eval_trained.jsonl_results.jsonl" \
    --report "$keep/base_vs_trained"
done
"$BIN/python" scripts/make_tables.py
