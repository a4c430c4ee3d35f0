#!/usr/bin/env bash
# A separate virtual environment that holds vLLM, for `vllm serve` on a CUDA GPU machine.
#
#   scripts/vllm-server-venv.sh [VENV [PIP_ARGS...]]        VENV default: .venv-vllm
#
# PIP_ARGS go to the `pip install` of vLLM, e.g. `--dry-run --report vllm.json` to see what
# would be installed without downloading the wheels.
#
# openrft never imports vLLM: it talks to the server over HTTP (docs/vllm.md), so vLLM and its
# exact pins (its own torch, transformers < 5.21, fastapi < 0.137) live here, apart from the
# trainer's environment. This script neither imports nor installs openrft.
#
# VLLM_VERSION (default below) is the newest vLLM release whose requirements resolve from PyPI
# on Python 3.11 and 3.12 (0.34.0 needs flashinfer-python==0.7.3, which PyPI does not have).
# It brings torch 2.14.0 and the CUDA 13 packages it needs (several GB). PYTHON picks the
# interpreter (3.11 to 3.14 per vLLM's metadata).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${1:-.venv-vllm}
VLLM_VERSION=${VLLM_VERSION:-0.33.0}
PYTHON=${PYTHON:-python3}

"$PYTHON" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 15))' || {
    echo "vllm-server-venv: vLLM $VLLM_VERSION needs Python 3.11 to 3.14 (found $("$PYTHON" --version))" >&2
    exit 1
}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install "vllm==$VLLM_VERSION" "${@:2}"
if "$VENV/bin/python" -m pip show vllm >/dev/null 2>&1; then
    echo "vllm-server-venv: vLLM $VLLM_VERSION ready; start it with $VENV/bin/vllm serve (docs/vllm.md)"
fi
