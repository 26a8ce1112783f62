#!/bin/sh
cat /opt/hello/data/message.txt
echo "running as $(id -un)"
