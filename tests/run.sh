#!/usr/bin/env bash
# The project's test command: installs what the suite needs on a fresh Debian
# machine (apt packages, then a venv with pip), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=$(sed -e 's/#.*//' tests/apt-packages.txt | xargs)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in $packages; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

bash samples/venv.sh '.[test]'

# As root (CI) the privileged tests must run: a skip becomes a failure.
if [ "$(id -u)" = 0 ]; then export PYBUILD_REQUIRE_PRIVILEGED="${PYBUILD_REQUIRE_PRIVILEGED:-1}"; fi
exec .venv/bin/python -m pytest -q "$@"
