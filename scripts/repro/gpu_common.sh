# Settings of the paper's Qwen3-8B runs (LAIMARK, April 2026), shared by the paper_*.sh scripts.
# Sourced, not run. Every value can be overridden from the environment.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODEL="${LAIMARK_MODEL:-Qwen/Qwen3-8B}"
OUT="${LAIMARK_OUT:-runs/paper}"
# Qwen3 may think before it answers: give evaluation room for it (the answer is taken after </think>).
EVAL_TOKENS="${EVAL_TOKENS:-1024}"
# The paper: LoRA r=16, alpha=32 on q/v, lr 5e-6, 2 epochs, max completion 1024 (laimark-train's
# defaults except the completion length). vLLM makes GRPO's sampling several times faster when it
# is installed (pip install -e '.[vllm]'); TRL's colocate mode shares the one GPU.
TRAIN_FLAGS=(--model "$MODEL" --max_completion_length 1024 --seed 42)
if "$BIN/python" -c "import vllm" 2>/dev/null; then
  TRAIN_FLAGS+=(--use_vllm --vllm_mode colocate)
fi

# evaluate NAME [laimark-eval flags...]: greedy HumanEval pass@1 into $OUT/NAME/eval.jsonl
evaluate() {
  local name=$1
  shift
  mkdir -p "$OUT/$name"
  stage "evaluate $name" "$OUT/$name/eval.jsonl.meta.json" \
    "$BIN/laimark-eval" --model "$MODEL" --max_new_tokens "$EVAL_TOKENS" --batch_size 16 \
    --output "$OUT/$name/eval.jsonl" --resume "$@"
}

# curriculum: the model's own calibrated problems (the paper kept 22 of its candidates, about 1 in
# 10, with 8 samples at T=0.7 in [0.2, 0.8]). Made once and shared by the rows that train on it.
curriculum() {
  mkdir -p "$OUT/curriculum"
  stage "curriculum (generate + calibrate until 22 are in the window)" \
    "$OUT/curriculum/calibrated.jsonl.meta.json" \
    "$BIN/python" -m laimark.generate_and_calibrate_hf --model "$MODEL" --target 22 \
    --samples 8 --lo 0.2 --hi 0.8 --gen_max_new_tokens 1536 --max_new_tokens 1024 --seed 0 \
    --output "$OUT/curriculum/calibrated.jsonl" --resume
}
