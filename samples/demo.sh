#!/usr/bin/env bash
# The README's first command: set up pybuild on a fresh Debian machine, then build and
# run the bundled offline sample (samples/busybox-hello) from a locally prepared base image.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! [ -x /bin/busybox ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e . --config-settings editable_mode=compat >/dev/null
.venv/bin/python -m compileall -q builder grammar runtime registry_client >/dev/null

export PYBUILD_ROOT=${PYBUILD_ROOT:-/var/lib/pybuild}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== base image: busybox:local from Debian's busybox-static"
bash samples/busybox-base/make-rootfs.sh "$work/busybox.tar"
.venv/bin/pybuild import "$work/busybox.tar" busybox:local

echo "== check, then build samples/busybox-hello"
.venv/bin/pybuild --check samples/busybox-hello
.venv/bin/pybuild build -t busybox-hello:demo --progress plain samples/busybox-hello

echo "== run it"
.venv/bin/pybuild run --rm busybox-hello:demo
