"""``pattern``: a regular expression compiled on first use, once per process.

Importing registry_client compiles no regex (a pull's start-up pays only for the patterns it
uses: a registry without auth never parses a challenge, a download that never resumes never
reads a Content-Range). Every module keeps its patterns as source strings and asks for them here.
"""
from __future__ import annotations

import re
from functools import cache


@cache
def pattern(source: str) -> re.Pattern[str]:
    return re.compile(source)
