#!/bin/bash
# run-hooks.sh
