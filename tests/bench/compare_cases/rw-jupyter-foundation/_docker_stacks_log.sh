#!/bin/bash
# _docker_stacks_log.sh
