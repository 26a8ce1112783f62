"""Importing registry_client compiles no regex: each pattern is compiled by its first use (registry_client.patterns)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: lists the registry_client files that called ``re``'s compiler (through
# re.compile, re.match, re.sub...), after importing every module and after parsing a reference.
PROBE = """
import os, pkgutil, re, sys, importlib
callers = []
original = re._compile
def recording(*args, **kwargs):
    frame = sys._getframe(1)
    while frame.f_code.co_filename == re.__file__:
        frame = frame.f_back
    if os.sep + "registry_client" + os.sep in frame.f_code.co_filename:
        callers.append(os.path.basename(frame.f_code.co_filename))
    return original(*args, **kwargs)
re._compile = recording
import registry_client
for module in pkgutil.iter_modules(registry_client.__path__):
    importlib.import_module("registry_client." + module.name)
at_import = list(callers)
registry_client.parse_reference("example.com/app:1")
registry_client.parse_reference("example.com/app:2")
print(repr((at_import, callers)))
"""


def test_importing_every_module_compiles_no_regex_and_a_pattern_is_compiled_once_when_used() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=ROOT)
    at_import, after_use = ast.literal_eval(result.stdout)
    assert at_import == []
    assert after_use == ["patterns.py"]  # the reference pattern, by the first parse only
