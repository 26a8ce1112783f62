"""Locating, reading and parsing the Dockerfile for a build (with a parse cache)."""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from builder.errors import UsageError
from grammar import record

if TYPE_CHECKING:
    from grammar import Dockerfile


@record
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


# ---------------------------------------------------------------- parse cache
#
# Parsing a Dockerfile is most of what ``pybuild --check`` does after start-up, and
# it needs the LALR parser (its runtime, tables and lexers: ~40 ms). A rebuild or
# re-check of an unchanged file reads the parse back instead (~1 ms).
#
# An entry is keyed by the grammar package's code, the file's path and its text,
# and holds all three, so a hit is exact: any edit to grammar/ (code, grammar or
# parser tables) or to the file is a miss. Entries are pickles in the user's own
# cache directory, written atomically; a broken or foreign entry is a miss.

PARSE_CACHE_FORMAT = 1
PARSE_CACHE_ENTRIES = 256  # beyond this many files, the least recently written go
NO_PARSE_CACHE_ENV = "PYBUILD_NO_PARSE_CACHE"


def load_dockerfile(source: DockerfileSource) -> Dockerfile:
    """``parse_dockerfile(parse_nodes(text, path))`` for ``source``, through the parse cache.

    Raises what parsing raises (a syntax error is never cached).
    """
    cache = ParseCache.default()
    if cache is not None:
        found = cache.get(source.display_path, source.text)
        if found is not None:
            return found
    from grammar import parse_dockerfile, parse_nodes

    dockerfile = parse_dockerfile(parse_nodes(source.text, source.display_path))
    if cache is not None:
        cache.put(source.display_path, source.text, dockerfile)
    return dockerfile


class ParseCache:
    def __init__(self, directory: str, code_fingerprint: str) -> None:
        self.directory = directory
        self.code_fingerprint = code_fingerprint

    @classmethod
    def default(cls) -> ParseCache | None:
        """The cache under $XDG_CACHE_HOME (or ~/.cache), unless $PYBUILD_NO_PARSE_CACHE is set."""
        if os.environ.get(NO_PARSE_CACHE_ENV):
            return None
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        try:
            return cls(os.path.join(base, "pybuild", "parse"), grammar_code_fingerprint())
        except OSError:
            return None

    def _entry(self, path: str, text: str) -> tuple[str, tuple[object, ...]]:
        header = (PARSE_CACHE_FORMAT, self.code_fingerprint, path, text)
        checksum = zlib.crc32(text.encode("utf-8", "surrogatepass"), zlib.crc32(f"{header[:3]}".encode()))
        return os.path.join(self.directory, f"{checksum:08x}-{len(text):x}.pickle"), header

    def get(self, path: str, text: str) -> Dockerfile | None:
        import pickle

        filename, header = self._entry(path, text)
        try:
            with open(filename, "rb") as handle:
                if pickle.load(handle) != header:
                    return None  # another file with the same checksum, or older grammar code
                found = pickle.load(handle)
        except Exception:  # missing, unreadable or broken: parse again (and rewrite it)
            return None
        from grammar import Dockerfile

        return found if isinstance(found, Dockerfile) else None

    def put(self, path: str, text: str, dockerfile: Dockerfile) -> None:
        import pickle

        filename, header = self._entry(path, text)
        temporary = f"{filename}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.makedirs(self.directory, exist_ok=True)
            with open(temporary, "wb") as handle:
                pickle.dump(header, handle, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(dockerfile, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, filename)
            self._prune()
        except (OSError, pickle.PicklingError):
            with contextlib.suppress(OSError):
                os.unlink(temporary)

    def _prune(self) -> None:
        entries = []
        with os.scandir(self.directory) as found:
            for entry in found:
                if entry.name.endswith(".pickle"):
                    with contextlib.suppress(OSError):
                        entries.append((entry.stat().st_mtime_ns, entry.path))
        for _, stale in sorted(entries)[:max(0, len(entries) - PARSE_CACHE_ENTRIES)]:
            with contextlib.suppress(OSError):
                os.unlink(stale)


def grammar_code_fingerprint() -> str:
    """A checksum of every source file of the grammar package (code, .lark files, parser tables)."""
    import grammar

    directory = os.path.dirname(grammar.__file__)
    checksum = 0
    for name in sorted(os.listdir(directory)):
        if name.endswith((".py", ".lark")):
            with open(os.path.join(directory, name), "rb") as handle:
                checksum = zlib.crc32(handle.read(), zlib.crc32(name.encode(), checksum))
    return f"{sys.version_info[0]}.{sys.version_info[1]}:{checksum:08x}"
