# Settings of the paper's Qwen3-8B runs (LAIMARK, April 2026), shared by the paper_*.sh scripts.
# Sourced, not run. Every value can be overridden from the environment. docs/fidelity.md lists
# what still differs from the original's code and why.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODEL="${LAIMARK_MODEL:-Qwen/Qwen3-8B}"
OUT="${LAIMARK_OUT:-runs/paper}"
# The paper's solve protocol in calibration, training and evaluation: its L2b system prompt (ending
# in /no_think) and body-only request, with Qwen3's thinking off.
PROTOCOL=(--solve_format paper --thinking off)
# The paper's curriculum protocol: the model writes the asserts, 8 samples for every problem, the
# point rule on the window, no held-out split (laimark's defaults differ: docs/stages.md).
PAPER_CURRICULUM=(--mode asserts --schedule fixed --window_rule point --heldout_share 0)
# The original's evaluation: fp16, greedy, 2048 new tokens.
EVAL_TOKENS="${EVAL_TOKENS:-2048}"
# The paper: LoRA r=16, alpha=32 on q/v, lr 5e-6, 2 epochs, max completion 1024, bf16 (laimark-train's
# defaults). vLLM makes GRPO's sampling several times faster when it is installed
# (pip install -e '.[vllm]'); TRL's colocate mode shares the one GPU.
TRAIN_FLAGS=(--model "$MODEL" --max_completion_length 1024 --dtype bf16 --seed 42 "${PROTOCOL[@]}")
if "$BIN/python" -c "import vllm" 2>/dev/null; then
  TRAIN_FLAGS+=(--use_vllm --vllm_mode colocate)
fi

# evaluate NAME [laimark-eval flags...]: greedy HumanEval pass@1 into $OUT/NAME/eval.jsonl
evaluate() {
  local name=$1
  shift
  mkdir -p "$OUT/$name"
  stage "evaluate $name" "$OUT/$name/eval.jsonl.meta.json" \
    "$BIN/laimark-eval" --model "$MODEL" --dtype fp16 --max_new_tokens "$EVAL_TOKENS" \
    --batch_size 16 --seed 42 "${PROTOCOL[@]}" --output "$OUT/$name/eval.jsonl" --resume "$@"
}

# calibrated_curriculum DIR [flags...]: the policy writes problems and measures them against itself
# until 22 are in the window (the original's README and data file hold 22, its paper says 33;
# about 1 candidate in 10; 8 samples at T=0.7 in [0.2, 0.8]), with the original's generate_and_calibrate_hf.py settings: fp16, difficulty 2/3
# "hard" and 1/3 "very hard", 1500 tokens per problem, 1024 per calibration answer.
calibrated_curriculum() {
  local dir=$1
  shift
  mkdir -p "$dir"
  stage "curriculum in $dir (generate + calibrate until 22 are in the window)" \
    "$dir/calibrated.jsonl.meta.json" \
    "$BIN/python" -m laimark.generate_and_calibrate_hf --model "$MODEL" --dtype fp16 --target 22 \
    --samples 8 --lo 0.2 --hi 0.8 --difficulty hard hard "very hard" --gen_max_new_tokens 1500 \
    --max_new_tokens 1024 --seed 42 "${PROTOCOL[@]}" "${PAPER_CURRICULUM[@]}" \
    --output "$dir/calibrated.jsonl" --resume "$@"
}

# curriculum: the base model's own calibrated problems, shared by the rows that train on it.
curriculum() {
  calibrated_curriculum "$OUT/curriculum"
}
