#!/bin/sh
# Benchmark of stages 1 and 2 (docs/benchmarks.md, "Problem generation and calibration"):
# laimark-generate + laimark-calibrate on the embedded 0.5B at --count 50 --samples 8, then the
# accepted curriculum, both sidecars, the histogram and the survival funnel are copied to
# data/runs/qwen0.5b_count50/. Generation stops at 50 accepted problems or when its attempt budget
# (10 x count replies) runs out, whichever comes first. Every step passes --resume: rerun this script to pick up a run that
# was interrupted. Long on 2 CPU cores; run it in the background under the machine's heavy-job lock:
#
#   nohup flock /tmp/laimark-heavy.lock sh scripts/bench_gencal.sh > /tmp/bench_gencal.log 2>&1 &
set -u
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
OUT="${OUT:-runs/qwen0.5b_count50}"
KEEP="${KEEP:-data/runs/qwen0.5b_count50}"
mkdir -p "$OUT"

t0=$(date +%s)
.venv/bin/python -m laimark.generate_problems --count 50 --seed 0 \
    --output "$OUT/candidates.jsonl" --resume
echo "generate exit $? session wall $(( $(date +%s) - t0 ))s"
t1=$(date +%s)
.venv/bin/python -m laimark.calibrate_problems --input "$OUT/candidates.jsonl" \
    --output "$OUT/calibrated.jsonl" --samples 8 --seed 0 --resume
echo "calibrate exit $? session wall $(( $(date +%s) - t1 ))s"

mkdir -p "$KEEP"
cp "$OUT/candidates.jsonl" "$OUT/candidates.jsonl.meta.json" "$OUT/calibrated.jsonl" \
    "$OUT/calibrated.jsonl.meta.json" "$OUT/calibrated.jsonl.hist.png" "$KEEP/"
.venv/bin/python - "$OUT" "$KEEP" <<'EOF'
"""funnel.json: the survival funnel and the time each stage took, summed over sessions."""
import json, sys
from pathlib import Path

out, keep = Path(sys.argv[1]), Path(sys.argv[2])
gen = json.loads((out / "candidates.jsonl.meta.json").read_text())
cal = json.loads((out / "calibrated.jsonl.meta.json").read_text())
hours = (gen["work_seconds"] + cal["counts"]["work_seconds"]) / 3600
summary = {
    "funnel": cal["funnel"],
    "rejected_by": gen["rejected_by"],
    "generate_seconds": gen["seconds"],
    "generate_tokens": gen["tokens_generated"],
    "calibrate_seconds": cal["counts"]["work_seconds"],
    "calibrate_tokens": cal["counts"]["tokens_generated"],
    "total_hours": round(hours, 3),
    "accepted_per_hour_generate": gen["accepted_per_hour"],
    "in_window_per_hour_total": round(cal["counts"]["in_window"] / hours, 2) if hours else None,
}
(keep / "funnel.json").write_text(json.dumps(summary, indent=2) + "\n")
print(json.dumps(summary, indent=2))
EOF
