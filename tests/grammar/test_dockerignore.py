"""grammar.dockerignore beyond upstream's tables: file lookup, reading, walker support, RE2 details."""
from __future__ import annotations

from pathlib import Path

import pytest

from grammar.dockerignore import PatternMatcher, find_ignore_file, read_ignore_file, read_ignore_patterns
from grammar.errors import IgnorePatternError


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


def test_no_ignore_file(context: Path) -> None:
    assert find_ignore_file(context, context / "Dockerfile") is None


def test_context_root_ignore_file(context: Path) -> None:
    (context / ".dockerignore").write_text("x\n")
    assert find_ignore_file(context, context / "Dockerfile") == context / ".dockerignore"


def test_dockerfile_specific_ignore_file_wins(context: Path) -> None:
    (context / ".dockerignore").write_text("x\n")
    (context / "Dockerfile.dockerignore").write_text("y\n")
    assert find_ignore_file(context, context / "Dockerfile") == context / "Dockerfile.dockerignore"


def test_dockerfile_specific_ignore_file_lives_next_to_the_dockerfile(context: Path) -> None:
    (context / ".dockerignore").write_text("x\n")
    build = context / "build"
    build.mkdir()
    (build / "app.Dockerfile").write_text("FROM scratch\n")
    (build / "app.Dockerfile.dockerignore").write_text("y\n")
    (context / "app.Dockerfile.dockerignore").write_text("z\n")  # wrong place: not used
    assert find_ignore_file(context, build / "app.Dockerfile") == build / "app.Dockerfile.dockerignore"


def test_ignore_file_of_another_dockerfile_is_not_used(context: Path) -> None:
    (context / "Dockerfile2.dockerignore").write_text("y\n")
    assert find_ignore_file(context, context / "Dockerfile") is None
    assert find_ignore_file(context, None) is None


def test_a_directory_named_dockerignore_is_not_an_ignore_file(context: Path) -> None:
    (context / ".dockerignore").mkdir()
    assert find_ignore_file(context, context / "Dockerfile") is None


def test_read_ignore_file(tmp_path: Path) -> None:
    path = tmp_path / ".dockerignore"
    path.write_bytes(b"\xef\xbb\xbf# comment\r\n  /build/../dist//  \r\n !  /keep \n\n")
    assert read_ignore_file(path) == ["dist", "!keep"]


@pytest.mark.parametrize(
    ("text", "patterns"),
    [
        ("  # indented hash is a pattern", ["# indented hash is a pattern"]),
        ("a\nb", ["a", "b"]),
        ("./a/./b/", ["a/b"]),
        ("/", ["/"]),
        ("!/", ["!/"]),
        ("\t\u00a0x\u00a0", ["x"]),
        ("", []),
    ],
)
def test_read_ignore_patterns(text: str, patterns: list[str]) -> None:
    assert read_ignore_patterns(text) == patterns


def test_overlong_line_is_an_error_like_bufio_scanner() -> None:
    assert read_ignore_patterns("a" * 65535) == ["a" * 65535]
    with pytest.raises(IgnorePatternError, match="token too long"):
        read_ignore_patterns("a" * 65536)


def test_later_exception_re_includes_a_file_under_an_excluded_directory() -> None:
    matcher = PatternMatcher(["docs", "!docs/README.md"])
    assert matcher.matches("docs")
    assert matcher.matches("docs/other.md")
    assert not matcher.matches("docs/README.md")


def test_walker_descends_only_when_an_exception_names_the_directory() -> None:
    matcher = PatternMatcher(["docs", "build", "!docs/README.md", "!**/keep"])
    assert matcher.has_exceptions
    assert matcher.may_contain_included("docs")
    assert not matcher.may_contain_included("build")  # fsutil does not expand "**" here
    assert not matcher.may_contain_included("doc")
    assert not PatternMatcher(["docs"]).may_contain_included("docs")


def test_double_star_prefix_is_a_plain_suffix_test_like_upstream() -> None:
    assert PatternMatcher(["**file"]).matches("dir/xfile")


def test_patterns_are_trimmed_and_cleaned() -> None:
    assert PatternMatcher(["  ./a/b/  "]).matches("a/b/c")
    assert PatternMatcher(["", "   "]).patterns == ()


def test_end_anchor_does_not_match_before_a_trailing_newline() -> None:
    # Go's "$" is the end of text; Python's would also match before a final "\n".
    assert not PatternMatcher(["a?"]).matches("ab\n")


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("[[:digit:]]x", "5x", True),
        ("[[:digit:]]x", "dx", False),
        ("\\d", "7", True),  # RE2 reads the escape as a digit class
        ("\\d", "d", False),
        ("[*]", "^/]", True),  # "*" inside brackets becomes "[^/]*" in RE2: class {[ ^ /}, star, "]"
        ("[*]", "*", False),
        ("a^b", "a^b", True),  # no wildcard: an exact comparison
        ("a^b*", "a^bc", False),  # "^" is not escaped upstream: an anchor that cannot match
        ("\\x41", "A", True),
    ],
)
def test_re2_meaning_of_odd_patterns(pattern: str, path: str, expected: bool) -> None:
    assert PatternMatcher([pattern]).matches(path) is expected


@pytest.mark.parametrize("pattern", ["\\pL", "[[:^alpha:]]", "[[:nope:]]", "\\1", "[z-a]", "\\é", "\\xZZ"])
def test_patterns_python_cannot_match_like_re2_are_rejected(pattern: str) -> None:
    with pytest.raises(IgnorePatternError):
        PatternMatcher([pattern])


def test_parent_results_must_fit_the_patterns() -> None:
    with pytest.raises(ValueError):
        PatternMatcher(["a"]).matches_with_parent("a/b", (True, False))
