#!/bin/bash
exec start-notebook.py "$@"
