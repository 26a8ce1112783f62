#!/usr/bin/env bash
set -Eeuo pipefail
# initdb if needed
