"""Turning outcomes into what the user sees: error messages, exit codes and the check report."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from builder.errors import BuildError, PlanError, StepError, UsageError
from grammar import DockerfileSyntaxError, GrammarError, render_snippet

if TYPE_CHECKING:
    from builder.console import Console
    from builder.frontend.check import CheckReport

EXIT_OK, EXIT_STEP_FAILED, EXIT_USAGE, EXIT_REGISTRY = 0, 1, 2, 3


def report_error(exc: BaseException, console: Console) -> int | None:
    """Show a user-facing error and return its exit code; None if ``exc`` is a bug, not a user mistake."""
    if isinstance(exc, DockerfileSyntaxError):
        console.error(str(exc), exc.snippet())
        return EXIT_USAGE
    if isinstance(exc, (PlanError, StepError)):
        snippet = render_snippet(exc.path, exc.source_lines, exc.line, exc.end_line) if exc.line else ""
        console.error(str(exc), snippet)
        return EXIT_STEP_FAILED if isinstance(exc, StepError) else EXIT_USAGE
    if isinstance(exc, (GrammarError, UsageError)):
        console.error(str(exc))
        return EXIT_USAGE
    if isinstance(exc, BuildError):
        console.error(str(exc))
        return EXIT_STEP_FAILED
    return _report_registry_error(exc, console)


def _report_registry_error(exc: BaseException, console: Console) -> int | None:
    # Imported here: registry_client pulls in requests, which commands that never touch a
    # registry should not pay for at start-up.
    if "registry_client" not in sys.modules:
        return None  # nothing registry-related ran, so this cannot be a RegistryError
    from registry_client import InvalidReference, RegistryError

    if isinstance(exc, InvalidReference):
        console.error(str(exc))
        return EXIT_USAGE
    if isinstance(exc, RegistryError):
        console.error(str(exc))
        return EXIT_REGISTRY
    return None


def render_check(report: CheckReport, console: Console, *, json_format: bool, quiet_when_clean: bool = False) -> int:
    for warning in report.warnings:
        snippet = render_snippet(report.path, report.source_lines, warning.line, warning.end_line) if warning.line else ""
        location = f"{report.path}:{warning.line}: " if warning.line else ""
        console.warning(f"{location}{warning.message}", snippet)
    if json_format:
        console.result_json(report.plan_document())
    elif not quiet_when_clean:
        count = len(report.warnings)
        console.info("Check complete, no warnings found." if not count else f"Check complete, {count} warning(s) found.")
    return EXIT_OK
