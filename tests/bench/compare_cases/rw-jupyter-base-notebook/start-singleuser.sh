#!/bin/bash
exec start-singleuser.py "$@"
