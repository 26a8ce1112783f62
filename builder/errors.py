"""Errors raised by the builder package."""
from __future__ import annotations


class BuildError(Exception):
    """Root of every error raised by ``builder``."""


class UsageError(BuildError):
    """The command line asks for something impossible (exit code 2)."""


class ContainerStartFailed(BuildError):
    """``pybuild run``'s container or its command could not start; ``exit_code`` is docker run's for it
    (125: the container could not be made or started, 126: the command cannot be executed, 127: not found)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class PlanError(BuildError):
    """The Dockerfile is well-formed but cannot be planned (unknown target, missing value, ...).

    Carries the Dockerfile location when there is one so the CLI can show a snippet.
    """

    def __init__(self, message: str, *, path: str = "", line: int = 0, end_line: int = 0,
                 source_lines: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.end_line = end_line or line
        self.source_lines = source_lines

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else self.message


class StepError(BuildError):
    """A build step failed; carries the instruction's location for the snippet."""

    def __init__(self, message: str, *, path: str, line: int, end_line: int, source_lines: tuple[str, ...],
                 exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.end_line = end_line
        self.source_lines = source_lines
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"
