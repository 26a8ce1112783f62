"""--chmod: octal and chmod(1) symbolic forms."""
from __future__ import annotations

import pytest

from grammar.chmod import parse_chmod
from grammar.failures import InstructionError


@pytest.mark.parametrize(("text", "mode"), [("0644", 0o644), ("755", 0o755), ("0", 0), ("7777", 0o7777)])
def test_octal(text: str, mode: int) -> None:
    assert parse_chmod(text).octal == mode
    assert parse_chmod(text).apply(0o600) == mode


@pytest.mark.parametrize(
    ("text", "before", "is_dir", "after"),
    [
        ("go-w", 0o777, False, 0o755),
        ("u=rw,g=r,o=r", 0o777, False, 0o644),
        ("a+X", 0o644, False, 0o644),
        ("a+X", 0o644, True, 0o755),
        ("a+X", 0o744, False, 0o755),
        ("+x", 0o644, False, 0o755),
        ("g=u-w", 0o754, False, 0o754),
        ("go=", 0o777, False, 0o700),
        ("u+s", 0o755, False, 0o4755),
        ("+t", 0o755, True, 0o1755),
        ("o+t", 0o755, True, 0o755),
    ],
)
def test_symbolic_matches_chmod(text: str, before: int, is_dir: bool, after: int) -> None:
    spec = parse_chmod(text)
    assert spec.octal is None
    assert spec.apply(before, is_dir=is_dir) == after


@pytest.mark.parametrize("text", ["64a", "10000", "8", "0x1ff", "99999999999999"])
def test_numeric_looking_values_get_the_octal_message(text: str) -> None:
    with pytest.raises(InstructionError) as caught:
        parse_chmod(text)
    assert caught.value.message == f"invalid chmod parameter: '{text}'. it should be octal string and between 0 and 07777"


@pytest.mark.parametrize("text", ["", "u", "u+x,", "+644", "a+q", "rwx", "u+x g-w"])
def test_invalid_symbolic(text: str) -> None:
    with pytest.raises(InstructionError, match="^invalid syntax$"):
        parse_chmod(text)
