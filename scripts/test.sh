#!/usr/bin/env bash
# Set everything up from scratch if needed, then run the whole test suite.
# Usage: bash scripts/test.sh          (everything, including the slow tests with real models)
#        bash scripts/test.sh --fast   (skip tests marked slow)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --models
VENV="${LAIMARK_VENV:-.venv}"
export OMP_NUM_THREADS=1  # two threads on two loaded cores made generation 5-20x slower
markers=()
[ "${1:-}" = "--fast" ] && markers=(-m "not slow")
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
status=0
"$VENV/bin/python" -m pytest "${markers[@]}" || status=$?
# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
[ "$status" -eq 5 ] && echo "test.sh: no tests were collected" >&2 && exit 1
exit "$status"
