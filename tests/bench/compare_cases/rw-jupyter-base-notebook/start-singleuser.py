#!/usr/bin/env python
# start-singleuser.py
