"""Everything pybuild shows to a person. The only module besides cli.py that may use rich.

A terminal gets rich's colours; pipes and CI logs get plain lines. rich costs tens of
milliseconds to import, so it is imported only when a terminal is attached.
"""
from __future__ import annotations

import json
import sys
from typing import Any, TextIO


class Console:
    """Writes messages to stderr and results (JSON, IDs) to stdout."""

    def __init__(self, err: TextIO | None = None, out: TextIO | None = None, *, color: bool | None = None) -> None:
        self._err = err or sys.stderr
        self._out = out or sys.stdout
        wants_color = self._err.isatty() if color is None else color
        self._rich: Any = None
        if wants_color:
            from rich.console import Console as RichConsole

            self._rich = RichConsole(file=self._err, highlight=False)

    def _line(self, style: str, label: str, text: str) -> None:
        if self._rich is not None:
            from rich.markup import escape

            self._rich.print(f"[{style}]{label}[/{style}] {escape(text)}" if label else escape(text))
        else:
            self._err.write(f"{label} {text}\n" if label else f"{text}\n")

    def error(self, message: str, snippet: str = "") -> None:
        self._line("bold red", "ERROR:", message)
        if snippet:
            self._line("", "", snippet)

    def warning(self, message: str, snippet: str = "") -> None:
        self._line("yellow", "WARNING:", message)
        if snippet:
            self._line("", "", snippet)

    def info(self, message: str) -> None:
        self._line("", "", message)

    def result_json(self, document: Any) -> None:
        self._out.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
        self._out.flush()

    def result_line(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()
