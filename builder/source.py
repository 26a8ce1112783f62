"""Locating and reading the Dockerfile for a build."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from builder.errors import UsageError


@dataclass(frozen=True, slots=True)
class DockerfileSource:
    display_path: str  # what error messages call the file
    path: Path | None  # None when read from stdin
    text: str


def locate_dockerfile(context: Path, file_option: str | None) -> Path:
    """``-f`` as given, else ``CONTEXT/Dockerfile``, else ``CONTEXT/dockerfile`` (moby#10858)."""
    if file_option:
        return Path(file_option)
    default = context / "Dockerfile"
    if not default.exists() and (context / "dockerfile").exists():
        return context / "dockerfile"
    return default


def read_dockerfile(context: Path, file_option: str | None, stdin: TextIO | None = None) -> DockerfileSource:
    if file_option == "-":
        stream = stdin or sys.stdin
        data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
        text = data.decode("utf-8", errors="surrogateescape") if isinstance(data, bytes) else data
        return DockerfileSource("Dockerfile", None, text)
    path = locate_dockerfile(context, file_option)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"failed to read dockerfile: open {path}: no such file or directory") from None
    except IsADirectoryError:
        raise UsageError(f"failed to read dockerfile: {path} is a directory") from None
    except OSError as exc:
        raise UsageError(f"failed to read dockerfile: {path}: {exc.strerror}") from None
    return DockerfileSource(str(path), path, raw.decode("utf-8", errors="surrogateescape"))
