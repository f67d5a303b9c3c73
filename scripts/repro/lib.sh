# Shared by the reproduction scripts in this folder; sourced, not run.
# stage NAME SIDECAR COMMAND...: run COMMAND unless SIDECAR says the stage finished. A laimark
# stage writes its .meta.json sidecar when it starts ("status": "running") and marks it
# "complete" at the end (sidecars of laimark 0.1 have no status and were written last); an
# interrupted stage is rerun with --resume (the scripts pass it) and continues where it stopped.
# LAIMARK_DRY_RUN=1 prints each stage's command ("DRY <command>") instead of running it; the
# tests parse those lines with the real argument parsers, so a script cannot use a missing flag.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN="${BIN:-.venv/bin}"
[ -x "$BIN/laimark-eval" ] || { echo "laimark is not installed in $BIN: run 'bash scripts/setup.sh' first" >&2; exit 2; }

dry_run() { [ "${LAIMARK_DRY_RUN:-0}" = 1 ]; }

finished() {
  [ -e "$1" ] && { grep -q '"status": "complete"' "$1" || ! grep -q '"status":' "$1"; }
}

stage() {
  local name=$1 meta=$2
  shift 2
  if finished "$meta"; then
    echo "== $name: done already ($meta)"
    return 0
  fi
  if dry_run; then
    echo "DRY $(printf '%q ' "$@")"
    return 0
  fi
  echo "== $name: $*"
  "$@"
}
