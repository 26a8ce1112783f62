#!/bin/sh
# 30-tune-worker-processes.sh
set -e
exit 0
