"""``.dockerignore``: reading the file, matching context paths, finding the file.

Semantics are moby's ``patternmatcher`` (+ ``ignorefile``) as vendored by
BuildKit, and the directory pruning rule of fsutil's context walker. Paths
given to the matcher are slash-separated and relative to the context root.
"""
from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path

from grammar.errors import IgnorePatternError
from grammar.gotext import quote, trim_space
from grammar.ignorepattern import IgnorePattern

# What one pattern matched for a directory, fed to its children (upstream MatchInfo).
ParentMatches = tuple[bool, ...]

_BOM = "\ufeff"
_MAX_LINE_BYTES = 64 * 1024  # Go bufio.Scanner's default token limit


def read_ignore_patterns(text: str) -> list[str]:
    """Parse ``.dockerignore`` contents into patterns (upstream ``ignorefile.ReadAll``).

    Lines whose first character is ``#`` are comments; lines are trimmed and
    blank ones skipped; a ``!`` prefix is kept, the path after it cleaned and
    a leading ``/`` removed. A bare ``!`` is kept: ``PatternMatcher`` rejects it.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the text ended with a newline: no further line
    patterns: list[str] = []
    for number, line in enumerate(lines):
        if len(line) >= _MAX_LINE_BYTES // 4 and _utf8_length(line) >= _MAX_LINE_BYTES:
            raise IgnorePatternError("error reading .dockerignore: bufio.Scanner: token too long")
        if line.endswith("\r"):
            line = line[:-1]
        if number == 0 and line.startswith(_BOM):
            line = line[1:]
        if line.startswith("#"):
            continue
        pattern = trim_space(line)
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = trim_space(pattern[1:])
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def _utf8_length(text: str) -> int:
    """Bytes of ``text`` in the file it came from (undecodable bytes were kept as escapes)."""
    try:
        return len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


def read_ignore_file(path: Path) -> list[str]:
    """The patterns of an ignore file on disk (bytes that are not UTF-8 are kept as escapes)."""
    return read_ignore_patterns(path.read_bytes().decode("utf-8", "surrogateescape"))


def find_ignore_file(context_dir: Path, dockerfile_path: Path | None) -> Path | None:
    """The ignore file BuildKit uses for this build, or None.

    ``<Dockerfile name>.dockerignore`` next to the Dockerfile wins over
    ``<context>/.dockerignore`` (dockerui ``ReadEntrypoint``). Pass None for a
    Dockerfile read from stdin.
    """
    if dockerfile_path is not None:
        beside = dockerfile_path.with_name(dockerfile_path.name + ".dockerignore")
        if beside.is_file():
            return beside
    at_root = context_dir / ".dockerignore"
    return at_root if at_root.is_file() else None


def go_clean(path: str) -> str:
    """Go ``path.Clean``: like ``posixpath.normpath``, but ``//x`` becomes ``/x``."""
    cleaned = posixpath.normpath(path) if path else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _go_dir(path: str) -> str:
    """Go ``filepath.Dir``: everything before the last slash, cleaned."""
    return go_clean(path[: path.rfind("/") + 1])


class PatternMatcher:
    """Ordered ignore patterns; the last pattern that matches a path decides.

    A path is excluded when it or one of its parent directories matches an
    exclusion pattern and no later ``!`` pattern re-includes it.
    """

    __slots__ = ("patterns", "has_exceptions")

    def __init__(self, patterns: Iterable[str]) -> None:
        compiled: list[IgnorePattern] = []
        for raw in patterns:
            text = trim_space(raw)
            if not text:
                continue
            text = go_clean(text)
            exception = text.startswith("!")
            if exception:
                if len(text) == 1:
                    raise IgnorePatternError(f"illegal exclusion pattern: {quote('!')}")
                text = text[1:]
            compiled.append(IgnorePattern.compile(text, exclusion=exception))
        self.patterns: tuple[IgnorePattern, ...] = tuple(compiled)
        # Upstream Exclusions(): whether any "!" pattern exists.
        self.has_exceptions = any(pattern.exclusion for pattern in compiled)

    def matches(self, path: str) -> bool:
        """Whether ``path`` is excluded (upstream ``MatchesOrParentMatches``)."""
        matched = False
        parents: list[str] | None = None
        for pattern in self.patterns:
            # An exclusion can only flip a match, an inclusion only a non-match.
            if pattern.exclusion != matched:
                continue
            hit = pattern.matches(path)
            if not hit:
                if parents is None:
                    parents = _parent_prefixes(path)
                hit = any(pattern.matches(parent) for parent in parents)
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_with_parent(self, path: str, parent: ParentMatches = ()) -> tuple[bool, ParentMatches]:
        """Incremental ``matches`` for tree walks (upstream ``MatchesUsingParentResults``).

        Pass the second result of the parent directory's call as ``parent``
        (``()`` when unknown); pass this call's second result to the children.
        """
        if parent and len(parent) != len(self.patterns):
            raise ValueError("wrong number of values in parent matches")
        matched = False
        results: list[bool] = []
        parents: list[str] | None = None
        for index, pattern in enumerate(self.patterns):
            hit = bool(parent) and parent[index]
            if not hit:
                if pattern.exclusion != matched:
                    results.append(False)
                    continue
                hit = pattern.matches(path)
                if not hit and not parent:
                    if parents is None:
                        parents = _parent_prefixes(path)
                    hit = any(pattern.matches(prefix) for prefix in parents)
            results.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, tuple(results)

    def may_contain_included(self, directory: str) -> bool:
        """Whether an excluded ``directory`` must still be walked (fsutil's rule).

        fsutil skips an excluded directory entirely unless the text of some
        ``!`` pattern starts with ``<directory>/``. So ``!docs/README.md``
        rescues a file of an excluded ``docs``, while ``!**/README.md`` does not.
        """
        if not self.has_exceptions:
            return False
        prefix = directory + "/"
        return any(pattern.exclusion and (pattern.text + "/").startswith(prefix) for pattern in self.patterns)


def _parent_prefixes(path: str) -> list[str]:
    """``a``, ``a/b`` for ``a/b/c``: the parents upstream tries, outermost first."""
    parent = _go_dir(path)
    if parent == ".":
        return []
    parts = parent.split("/")
    return ["/".join(parts[: count + 1]) for count in range(len(parts))]
