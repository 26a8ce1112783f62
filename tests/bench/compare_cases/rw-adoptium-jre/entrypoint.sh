#!/usr/bin/env bash
# Sheldon Cooper's cacert entrypoint (stand-in): import certificates when asked, then exec.
set -e
if [ -n "$USE_SYSTEM_CA_CERTS" ]; then echo "would import certificates"; fi
exec "$@"
