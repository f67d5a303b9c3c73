#!/usr/bin/env bash
# Paper row "base": Qwen3-8B, HumanEval pass@1, greedy, chat template (paper: 63.4).
# Needs a GPU with >= 24 GB. Output: runs/paper/base/eval.jsonl (+ .meta.json).
source "$(dirname "$0")/gpu_common.sh"
evaluate base
