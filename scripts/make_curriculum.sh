#!/bin/sh
# The shipped curriculum (data/calibrated_selfgen.jsonl, docs/experimental-results.md): the embedded
# 0.5B writes problems in the execution-labelled mode and is calibrated against itself, in one
# process (generate_and_calibrate_hf), until TARGET problems for training are in the window; the
# held-out split (15% of in-window problems, by a stable hash) goes to the .heldout.jsonl beside it.
# Harder variants are asked for every problem it solves at least --lo of the time. Replies are cut
# at 512 tokens, not 768: in a first run (2026-12-04) the second code block of every reply ended
# within about 470 tokens, and 58% of the text came after the last code fence (prose); a batch runs
# until its longest reply stops, so the budget sets the time of every round.
#
# Resumable: every step passes --resume, so rerunning the script (in a later session too) picks up
# where it stopped; `sh scripts/make_curriculum.sh --save-state` copies the run's state into
# $STATE (data/runs/curriculum_0.5b_state) to be committed when a session ends mid-run.
# Hours on 2 CPU cores; run it in the background under the heavy-job lock:
#
#   nohup flock /tmp/laimark-heavy.lock sh scripts/make_curriculum.sh > /tmp/make_curriculum.log 2>&1 &
#
# When the run is complete it checks the result with laimark-check and copies the curriculum, its
# held-out split, their decontamination reports, the sidecar and funnel.json into data/ (KEEP).
set -u
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
TARGET="${TARGET:-60}"
# Attempts per round, all in flight at once on the openvino engine (--backend auto on CPU). The
# first 200 attempts (2026-12-04/05) ran in rounds of 8 on hf; a round's size is free to change
# on resume (each attempt's seed comes from its index).
ROUND="${ROUND:-32}"
OUT="${OUT:-runs/curriculum_0.5b}"
KEEP="${KEEP:-data}"
BIN=.venv/bin
# runs/ is not kept between working sessions on this machine: a session that stops the run commits
# its state (journal, measurements, sidecar) to $STATE, and the next run starts from it.
STATE="${STATE:-data/runs/curriculum_0.5b_state}"
if [ ! -e "$OUT/calibrated.jsonl.meta.json" ] && [ -e "$STATE/calibrated.jsonl.meta.json" ]; then
    mkdir -p "$OUT" && cp -p "$STATE"/* "$OUT"/
    echo "resuming from the state saved in $STATE"
fi
mkdir -p "$OUT"
if [ "${1:-}" = "--save-state" ]; then
    mkdir -p "$STATE" && cp -p "$OUT"/calibrated* "$STATE"/ && ls -l "$STATE"
    exit 0
fi

t0=$(date +%s)
"$BIN/python" -m laimark.generate_and_calibrate_hf --target "$TARGET" --max_attempts 3000 \
    --seed 0 --harder_variants --round_size "$ROUND" --batch_size "$ROUND" --gen_max_new_tokens 512 \
    --output "$OUT/calibrated.jsonl" --resume
code=$?
echo "pipeline exit $code, session wall $(( $(date +%s) - t0 ))s"
[ "$code" -eq 0 ] || exit "$code"

"$BIN/laimark-check" "$OUT/calibrated.jsonl" || exit 1
"$BIN/laimark-check" "$OUT/calibrated.heldout.jsonl" || exit 1
for f in calibrated.jsonl calibrated.heldout.jsonl; do
    dest=$(echo "$f" | sed 's/^calibrated/calibrated_selfgen/')
    cp "$OUT/$f" "$KEEP/$dest"
    cp "$OUT/$f.decontam.json" "$KEEP/$dest.decontam.json"
done
cp "$OUT/calibrated.jsonl.meta.json" "$KEEP/calibrated_selfgen.jsonl.meta.json"
"$BIN/python" scripts/funnel.py "$OUT/calibrated.jsonl" > "$KEEP/calibrated_selfgen.funnel.json"
cat "$KEEP/calibrated_selfgen.funnel.json"
