#!/bin/bash
# start.sh
