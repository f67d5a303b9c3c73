#!/usr/bin/env bash
# Paper row "Qwen3-32B, full function" (paper: 89.0): the larger base model, greedy, asked in the
# paper's words for the whole function (--full_function with the paper format: "paper-full"), not
# its body. Needs one 80 GB GPU (fp16 weights are about 65 GB).
LAIMARK_MODEL="${LAIMARK_MODEL:-Qwen/Qwen3-32B}"
source "$(dirname "$0")/gpu_common.sh"
evaluate qwen3_32b_full --full_function
