"""Shell patterns of ``${V#pat}`` ``${V%pat}`` ``${V/pat/repl}``, as BuildKit implements them.

BuildKit turns the pattern into a Go regexp (``*`` any text, ``?`` one
character, ``\\*`` ``\\?`` ``\\\\`` literal; no ``[...]`` classes) and trims a
suffix by reversing both the pattern and the value. Python's ``re`` has the
same leftmost-first semantics for these regexes; only ``ReplaceAllString``
needs care (empty matches and ``$`` references differ from ``re.sub``).
"""
from __future__ import annotations

import re

from grammar.errors import ExpansionError
from grammar.gotext import is_name_char

# What Go prints for a rune read past the end: error messages show it verbatim.
EOF_RUNE = "\ufffd"
_BOM = "\ufeff"
# Regex metacharacters a shell pattern must match literally.
_REGEX_SPECIALS = frozenset("[]{}.+()|^$")


def shell_pattern_to_regex(pattern: str, *, greedy: bool, anchored: bool) -> str:
    """Translate a shell pattern (``*``, ``?``, ``\\*``, ``\\?``, ``\\\\``) to regex source.

    The output is the regex BuildKit builds (it is valid for Python's ``re``
    too), except that a run of ``*`` becomes one wildcard: same matches, no
    needless backtracking. ``\\}`` and ``\\/`` are separator escapes whose
    backslash is dropped. Any other escape is an error, as upstream.
    """
    star = ".*" if greedy else ".*?"
    out = ["^"] if anchored else []
    previous_star = False
    i = 1 if pattern.startswith(_BOM) else 0
    end = len(pattern)
    while i < end:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if not previous_star:
                out.append(star)
            previous_star = True
            continue
        previous_star = False
        if ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i] if i < end else ""
            if following == "}" or following == "/":
                continue
            i += 1
            if following not in ("*", "?", "\\") or not following:
                raise ExpansionError(f"invalid escape '\\{following or EOF_RUNE}'")
            out.append("\\" + following)
        elif ch in _REGEX_SPECIALS:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def reverse_pattern(pattern: str) -> str:
    """Reverse a shell pattern, keeping each ``\\x`` escape pair in order (``a\\*c`` -> ``c\\*a``)."""
    pieces: list[str] = []
    i, last = 0, len(pattern) - 1
    while i <= last:
        width = 2 if pattern[i] == "\\" and i != last else 1
        pieces.append(pattern[i : i + width])
        i += width
    pieces.reverse()
    return "".join(pieces)


def trim_prefix(pattern: str, value: str, *, greedy: bool) -> str:
    """``${V#pat}`` (shortest) / ``${V##pat}`` (greedy)."""
    found = compile_shell_pattern(pattern, greedy=greedy, anchored=True).match(value)
    return value[found.end() :] if found else value


def trim_suffix(pattern: str, value: str, *, greedy: bool) -> str:
    """``${V%pat}`` / ``${V%%pat}``: a prefix trim of the reversed value and pattern."""
    # Regexes find the leftmost match only, so search the reversed text.
    return trim_prefix(reverse_pattern(pattern), value[::-1], greedy=greedy)[::-1]


def compile_shell_pattern(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """The compiled regex of a shell pattern; a bad pattern is BuildKit's substitution error."""
    try:
        source = shell_pattern_to_regex(pattern, greedy=greedy, anchored=anchored)
    except ExpansionError as err:
        raise ExpansionError(f"invalid pattern ({pattern}) in substitution: {err}") from None
    return re.compile(source)


def replace_all(regex: re.Pattern[str], value: str, template: str) -> str:
    """Go ``Regexp.ReplaceAllString``: differs from ``re.sub`` on empty matches and ``$``."""
    out: list[str] = []
    last_end = search_from = 0
    while search_from <= len(value):
        found = regex.search(value, search_from)
        if found is None:
            break
        start, stop = found.span()
        out.append(value[last_end:start])
        # Go skips an empty match right after the previous match.
        if stop > last_end or start == 0:
            out.append(_expand_template(template, found.group()))
        last_end = stop
        search_from = search_from + 1 if search_from + 1 > stop else stop
    out.append(value[last_end:])
    return "".join(out)


def _expand_template(template: str, whole_match: str) -> str:
    """Go ``Regexp.Expand`` for a regex whose only group is the whole match ($0)."""
    if "$" not in template:
        return template
    out: list[str] = []
    i, end = 0, len(template)
    while (dollar := template.find("$", i)) >= 0:
        out.append(template[i:dollar])
        i = dollar + 1
        if i < end and template[i] == "$":
            out.append("$")
            i += 1
            continue
        braced = i < end and template[i] == "{"
        name_start = i + 1 if braced else i
        name_end = name_start
        while name_end < end and is_name_char(template[name_end]):
            name_end += 1
        closed = not braced or (name_end < end and template[name_end] == "}")
        if name_end == name_start or not closed:
            out.append("$")  # not a reference: Go keeps the dollar as text
            continue
        i = name_end + 1 if braced else name_end
        if template[name_start:name_end] == "0":
            out.append(whole_match)
    out.append(template[i:])
    return "".join(out)
