#!/usr/bin/env bash
# The README's first command: set up pybuild on a fresh Debian machine and run
# it on the bundled offline sample (samples/busybox-hello).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! [ -x /bin/busybox ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e . --config-settings editable_mode=compat >/dev/null

# The builder is not wired up yet: check the sample the way `docker build --check` would.
.venv/bin/pybuild --check --format json -f samples/busybox-hello/Dockerfile samples/busybox-hello
.venv/bin/pybuild --check -f samples/busybox-hello/Dockerfile samples/busybox-hello
