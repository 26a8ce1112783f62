"""BuildKit's AST ``Dump()`` format, for conformance tests and debugging.

``(keyword ["--flag"] "arg" ...)`` per instruction, arguments quoted with Go's
``strconv.Quote``; ONBUILD prints its trigger nested: ``(onbuild (run "x"))``.
"""
from __future__ import annotations

from grammar.linesplit import go_trim_space
from grammar.nodes import Node, ParsedFile

_NAMED_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
    '"': '\\"', "\\": "\\\\",
}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: printable Unicode kept, everything else escaped."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return '"' + "".join(_quote_char(char) for char in text) + '"'


def _quote_char(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def dump_node(node: Node) -> str:
    parts = [node.keyword]
    if node.flags:
        parts.append("[" + " ".join(go_quote(flag) for flag in node.flags) + "]")
    if node.inner is not None:
        parts.append("(" + dump_node(node.inner) + ")")
    parts.extend(go_quote(arg) for arg in node.args)
    return go_trim_space(" ".join(parts))


def dump_file(parsed: ParsedFile) -> str:
    """The whole file as BuildKit's ``result`` files show it."""
    return "".join(f"({dump_node(node)})\n" for node in parsed.nodes)
