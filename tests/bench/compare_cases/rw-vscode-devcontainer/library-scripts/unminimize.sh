#!/bin/sh
# unminimize stand-in: reads the confirmation
read answer
echo "answer: $answer"
