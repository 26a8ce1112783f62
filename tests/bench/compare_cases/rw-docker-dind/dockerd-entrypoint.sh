#!/bin/sh
set -e
exec dockerd "$@"
