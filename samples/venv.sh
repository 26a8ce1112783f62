#!/usr/bin/env bash
# Makes (or refreshes) .venv with pybuild installed in editable mode; shared by the README's
# two commands (samples/demo.sh, tests/run.sh). Usage: bash samples/venv.sh [pip-target]
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-.}

# Prefer Debian's own python3: it is built with PGO and LTO, so start-up, imports and every
# Python-bound step run 15-20% faster than on a plain source build (pyenv's default).
python=python3
if /usr/bin/python3 -c 'import sys, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  python=/usr/bin/python3
fi
if [ -x .venv/bin/python ] && [ "$(readlink -f .venv/bin/python)" != "$(readlink -f "$(command -v "$python")")" ]; then
  rm -rf .venv  # made from another interpreter: start again
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e "$target" --config-settings editable_mode=compat >/dev/null
# Byte-compile once: with PYTHONDONTWRITEBYTECODE set (some machines set it) every run would recompile.
.venv/bin/python -m compileall -q builder grammar runtime registry_client >/dev/null
