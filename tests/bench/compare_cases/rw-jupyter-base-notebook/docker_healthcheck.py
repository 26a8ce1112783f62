#!/usr/bin/env python
# docker_healthcheck.py
