#!/bin/sh
# The generation backends on this machine's CPU (docs/benchmarks.md, "Generation backends"):
# hf and openvino in bf16 and fp32 on the first 16 HumanEval prompts (batch-1 loop on the first 4),
# then 64 prompts at once. Each run writes one JSON; a finished one is skipped on a rerun.
# Usage: nohup flock /tmp/laimark-heavy.lock sh scripts/bench_backends.sh [OUT_DIR] > LOG 2>&1 &
set -eu
cd "$(dirname "$0")/.."
OUT="${1:-runs/bench}"
mkdir -p "$OUT"
run() {
  out="$OUT/$1.json"
  shift
  [ -s "$out" ] && return 0
  echo "== $out $(date -u)"
  .venv/bin/python scripts/bench_generation.py --skip_gguf_load --max_new_tokens 256 "$@" --out "$out"
}
few="--n_prompts 16 --batch_sizes 16 --loop_prompts 4"
run gen16_hf_bf16 --backend hf --dtype bf16 $few
ref="--reference $OUT/gen16_hf_bf16.json"
run gen16_hf_fp32 --backend hf --dtype fp32 $few $ref
run gen16_openvino_bf16 --backend openvino --dtype bf16 $few $ref
run gen16_openvino_fp32 --backend openvino --dtype fp32 $few $ref
run gen64_openvino_auto --backend openvino --dtype auto --n_prompts 64 --batch_sizes 64 --loop_prompts 1
run gen64_hf_auto --backend hf --dtype auto --n_prompts 64 --batch_sizes 16 --loop_prompts 1
echo "== done $(date -u)"
