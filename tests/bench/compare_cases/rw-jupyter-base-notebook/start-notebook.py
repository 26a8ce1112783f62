#!/usr/bin/env python
# start-notebook.py
