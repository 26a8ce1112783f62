"""``--env-file FILE``: environment variables in docker's env-file format (docker/cli ``opts/file.go``).

One variable a line: ``KEY=VALUE`` passes VALUE through untouched (quotes and trailing spaces
included); a bare ``KEY`` takes the caller's value, and is left out when the caller has none. Leading
whitespace is ignored, as are empty lines and lines starting with ``#``, a UTF-8 BOM and CRLF line
ends. A name containing a space or a tab, an empty name, or bytes that are not UTF-8 are errors.
"""
from __future__ import annotations

from collections.abc import Mapping

from builder.errors import UsageError

_BOM = b"\xef\xbb\xbf"
_NAME_SPACES = " \t"


def read_env_file(path: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The file's ``KEY=VALUE`` entries, in order, bare names resolved against ``environ``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise UsageError(f"--env-file {path}: {error.strerror or error}") from None
    entries = []
    for number, raw in enumerate(data.removeprefix(_BOM).split(b"\n"), start=1):
        try:
            text = raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"--env-file {path}:{number}: not valid UTF-8") from None
        line = text.lstrip()
        if not line or line.startswith("#"):
            continue
        name, separator, value = line.partition("=")
        if any(space in name for space in _NAME_SPACES):
            raise UsageError(f"--env-file {path}:{number}: variable {name!r} contains whitespaces")
        if not name:
            raise UsageError(f"--env-file {path}:{number}: no variable name on line {line!r}")
        if separator:
            entries.append(f"{name}={value}")
        elif name in environ:
            entries.append(f"{name}={environ[name]}")
    return tuple(entries)
