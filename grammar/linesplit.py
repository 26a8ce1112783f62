"""Physical-line helpers shared by the file layer: Go's notion of whitespace,
newline trimming, the 64 KiB line limit, and joining continued lines.

BuildKit scans bytes with Go's ``unicode.IsSpace``; Python's ``str.isspace``
also counts the ASCII separators \\x1c-\\x1f, so the set is spelled out here.
"""
from __future__ import annotations

GO_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
BOM = "\ufeff"
# bufio.Scanner's buffer is 64 KiB, newline included, so 65535 bytes is the longest line.
MAX_LINE_BYTES = 65535
LINE_TOO_LONG = f"dockerfile line greater than max allowed size of {MAX_LINE_BYTES}"


def go_trim_space(text: str) -> str:
    return text.strip(GO_SPACE)


def go_trim_left(text: str) -> str:
    return text.lstrip(GO_SPACE)


def trim_newline(raw_line: str) -> str:
    """BuildKit trims every trailing CR and LF, so ``a\\r\\r\\n`` becomes ``a``."""
    return raw_line.rstrip("\r\n")


def drop_continuation(line: str) -> str:
    """Remove the escape token (and the blanks after it) that continues ``line``."""
    return line.rstrip(" \t")[:-1]


def first_line_text(raw_line: str, continued: bool) -> str:
    """The text an instruction's first physical line contributes (left-trimmed)."""
    text = go_trim_left(trim_newline(raw_line))
    return drop_continuation(text) if continued else text


def next_line_text(raw_line: str, continued: bool) -> str:
    """The text a continuation line contributes: its leading blanks are kept."""
    text = trim_newline(raw_line)
    return drop_continuation(text) if continued else text


def source_lines(text: str) -> tuple[str, ...]:
    """Physical lines for error snippets, without line endings."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return tuple(line.rstrip("\r") for line in lines)


def first_overlong_line(text: str) -> int | None:
    """0-based index of the first physical line longer than BuildKit accepts."""
    if len(text) <= MAX_LINE_BYTES // 4:
        return None  # cannot hold a long line even at 4 bytes per character
    for index, line in enumerate(text.split("\n")):
        if len(line) > MAX_LINE_BYTES // 4 and len(line.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES:
            return index
    return None


def cut_before_line(text: str, index: int) -> str:
    """The text up to (not including) physical line ``index``."""
    position = 0
    for _ in range(index):
        position = text.index("\n", position) + 1
    return text[:position]
