#!/bin/sh
# Benchmark of stages 1 and 2 as separate commands (docs/benchmarks.md, "Problem generation and
# calibration"): laimark-generate + laimark-calibrate on the embedded 0.5B at --count 50
# --samples 8 with today's defaults (the execution-labelled mode, sequential calibration, the
# posterior window rule), then the accepted curriculum, both sidecars, the histogram and the
# funnel are copied to data/runs/qwen0.5b_labelled_count50/ (the wave-1 run, in the asserts mode,
# is data/runs/qwen0.5b_count50/). The one-process pipeline that makes the shipped curriculum is
# scripts/make_curriculum.sh. Generation stops at 50 accepted problems or when its attempt budget
# (10 x count replies) runs out, whichever comes first. Every step passes --resume: rerun this script to pick up a run that
# was interrupted. Long on 2 CPU cores; run it in the background under the machine's heavy-job lock:
#
#   nohup flock /tmp/laimark-heavy.lock sh scripts/bench_gencal.sh > /tmp/bench_gencal.log 2>&1 &
set -u
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
OUT="${OUT:-runs/qwen0.5b_labelled_count50}"
KEEP="${KEEP:-data/runs/qwen0.5b_labelled_count50}"
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
for f in candidates.jsonl candidates.jsonl.meta.json candidates.jsonl.decontam.json \
    calibrated.jsonl calibrated.jsonl.meta.json calibrated.jsonl.hist.png \
    calibrated.heldout.jsonl calibrated.jsonl.decontam.json; do
    [ -e "$OUT/$f" ] && cp "$OUT/$f" "$KEEP/"
done
# funnel.json: the funnel, rejection reasons, mutant-kill rates, the share refused only by the new
# checks, in-window problems per hour and the CPU of every session (scripts/funnel.py).
.venv/bin/python scripts/funnel.py "$OUT/candidates.jsonl" --calibrated "$OUT/calibrated.jsonl" \
    | tee "$KEEP/funnel.json"
