#!/usr/bin/env bash
# The README's first command: set up pybuild on a fresh Debian machine, then build and
# run the bundled offline sample (samples/busybox-hello) from a locally prepared base image.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /bin/busybox ] || need+=(busybox-static)
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)  # samples/venv.sh prefers Debian's python3
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
bash samples/venv.sh .

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
