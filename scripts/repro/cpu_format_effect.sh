#!/usr/bin/env bash
# The solve-format effect on CPU (docs/experimental-results.md, "Solve formats"): the embedded
# Qwen2.5-Coder-0.5B-Instruct on the 164 HumanEval tasks, greedy, once with laimark's format (the
# whole function in a code block), once with the LAIMARK paper's (its L2b system prompt and
# "Return ONLY the function body") and once with the paper's whole-function request under the same
# system prompt (paper-full: the user message is then the only difference from paper), then the
# paired comparisons. fp32: on a CPU without native bf16 it is the faster dtype
# (docs/benchmarks.md). Resumable; 45-65 min per run on 2 AVX2 cores:
#   nohup flock /tmp/laimark-heavy.lock bash scripts/repro/cpu_format_effect.sh > format_effect.log 2>&1 &
source "$(dirname "$0")/lib.sh"
OUT="${LAIMARK_RESULTS:-data/results}/format_effect"
FLAGS=(--model qwen2.5-coder-0.5b-instruct --dtype fp32 --max_new_tokens 512 --batch_size 8 --seed 0 --resume)
mkdir -p "$OUT"
for fmt in laimark paper paper-full; do
  stage "HumanEval, solve format $fmt" "$OUT/$fmt.jsonl.meta.json" \
    "$BIN/laimark-eval" "${FLAGS[@]}" --solve_format "$fmt" --output "$OUT/$fmt.jsonl"
done
dry_run && exit 0
for pair in "laimark paper" "laimark paper-full" "paper-full paper"; do
  set -- $pair
  "$BIN/laimark-eval" --compare "$OUT/$1.jsonl" "$OUT/$2.jsonl" --report "$OUT/$1_vs_$2"
done
