"""``RUN --mount=...`` values, read the way BuildKit's ``parseMount`` reads them.

The value is one CSV record of ``key=value`` fields (keys case-insensitive;
bare ``ro``, ``rw`` and ``required`` allowed). BuildKit reads it twice: at
parse time only ``from`` is checked (it may not use ``$``), and after
expansion every value is checked. ``parse_mount(spec, expand)`` is the second
read: the planner calls it with its word expander; ``check_mount_syntax`` is
the first.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import replace

from grammar.ast import RunMount
from grammar.failures import InstructionError
from grammar.gotext import GO_BOOLS, quote
from grammar.regexes import compile_regex
from grammar.suggest import with_hint

Expand = Callable[[str], str]

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
MOUNT_KEYS = (
    "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size",
    "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env",
)  # fmt: skip
_STRING_KEYS = {
    "from": "from_", "source": "source", "src": "source", "target": "target", "dst": "target",
    "destination": "target", "id": "id", "env": "env",
}  # fmt: skip
_SIZE = compile_regex(r"(\d+(?:\.\d+)*) ?([kmgtp])?i?b?", re.IGNORECASE)
# What BuildKit fills in at dispatch when a key is left out (mode is octal).
DEFAULT_MODES = {"cache": 0o755, "secret": 0o400, "ssh": 0o600}


def split_fields(spec: str) -> list[str]:
    """The CSV fields of a mount spec (Go ``encoding/csv`` semantics, one record)."""
    try:
        rows = list(csv.reader([spec], strict=True))
    except csv.Error as error:
        raise InstructionError(f"failed to parse csv mounts: {error}") from None
    # Go's reader yields one empty field for an empty record.
    return (rows[0] if rows else []) or [""]


def check_mount_syntax(spec: str) -> None:
    """BuildKit's parse-time check: the CSV reads and ``from`` has no variable."""
    for field in split_fields(spec):
        key, has_value, value = field.partition("=")
        dollar = value.find("$")
        if has_value and key.lower() == "from" and dollar != -1 and dollar != len(value) - 1:
            raise InstructionError("'from' doesn't support variable expansion, define alias stage instead")


def parse_mount(spec: str, expand: Expand | None = None) -> RunMount:
    """A typed, validated mount; ``expand`` is applied to every value first."""
    mount = RunMount(spec=spec)
    explicit_readonly = False
    for field in split_fields(spec):
        key, has_value, value = field.partition("=")
        key = key.lower()
        if not has_value:
            mount, explicit = _bare_key(mount, key, field)
            explicit_readonly |= explicit
            continue
        value = expand(value) if expand is not None else value
        mount, explicit = _keyed_value(mount, key, value, field)
        explicit_readonly |= explicit
    return _checked(_with_default_readonly(mount, explicit_readonly))


def preview_mount(spec: str) -> RunMount:
    """The mount as far as it can be known before expansion.

    Without ``$`` this is the final mount (and invalid values fail now). With
    one, fields whose value has a variable keep their raw text (strings) or
    their default (typed keys); the planner re-reads ``spec`` with
    ``parse_mount(spec, expand)`` in every case.
    """
    if "$" not in spec:
        return parse_mount(spec)
    fields = split_fields(spec)
    literal = ",".join(field for field in fields if _is_literal(field))
    try:
        mount = parse_mount(literal) if literal else RunMount(spec=spec)
        raw_fields = [field for field in fields if not _is_literal(field)]
    except InstructionError:
        # The literal part alone may be inconsistent (``type=$T,sharing=locked``).
        mount, raw_fields = RunMount(spec=spec), fields
    for field in raw_fields:
        key, _, value = field.partition("=")
        if key.lower() in _STRING_KEYS:
            mount = replace(mount, **{_STRING_KEYS[key.lower()]: value})
    return replace(mount, spec=spec)


def _is_literal(field: str) -> bool:
    return "$" not in field.partition("=")[2]


def _bare_key(mount: RunMount, key: str, field: str) -> tuple[RunMount, bool]:
    if key in ("readonly", "ro"):
        return replace(mount, readonly=True), True
    if key in ("readwrite", "rw"):
        return replace(mount, readonly=False), True
    if key == "required":
        _require_secret_or_ssh(mount, key)
        return replace(mount, required=True), False
    raise InstructionError(f"invalid field '{field}' must be a key=value pair")


def _keyed_value(mount: RunMount, key: str, value: str, field: str) -> tuple[RunMount, bool]:
    match key:
        case "type":
            if value.lower() not in MOUNT_TYPES:
                raise InstructionError(with_hint(f"unsupported mount type {quote(value)}", value, MOUNT_TYPES))
            return replace(mount, type=value.lower()), False  # type: ignore[arg-type]
        case "from":
            return replace(mount, from_=value), False
        case "source" | "src":
            return replace(mount, source=value), False
        case "target" | "dst" | "destination":
            return replace(mount, target=value), False
        case "readonly" | "ro":
            return replace(mount, readonly=_go_bool(key, value)), True
        case "readwrite" | "rw":
            return replace(mount, readonly=not _go_bool(key, value)), True
        case "required":
            _require_secret_or_ssh(mount, key)
            return replace(mount, required=_go_bool(key, value)), False
        case "size":
            if mount.type != "tmpfs":
                raise InstructionError(f"unexpected key '{key}' for mount type '{mount.type}'")
            return replace(mount, size=_ram_in_bytes(key, value)), False
        case "id":
            return replace(mount, id=value), False
        case "sharing":
            if value.lower() not in SHARING_MODES:
                raise InstructionError(with_hint(f"unsupported sharing value {quote(value)}", value, SHARING_MODES))
            return replace(mount, sharing=value.lower()), False  # type: ignore[arg-type]
        case "mode" | "uid" | "gid":
            return replace(mount, **{key: _unsigned(key, value, 8 if key == "mode" else 10)}), False
        case "env":
            return replace(mount, env=value), False
    raise InstructionError(with_hint(f"unexpected key '{key}' in '{field}'", key, MOUNT_KEYS))


def _with_default_readonly(mount: RunMount, explicit: bool) -> RunMount:
    # Only bind (and secret/ssh) mounts are read-only unless told otherwise.
    if explicit:
        return mount
    return replace(mount, readonly=mount.type not in ("cache", "tmpfs"))


def _checked(mount: RunMount) -> RunMount:
    if mount.type not in ("secret", "ssh", "cache"):
        for name in ("mode", "uid", "gid"):
            if getattr(mount, name) is not None:
                raise InstructionError(f"{name} not allowed for {quote(mount.type)} type mounts")
    if mount.type == "secret":
        if mount.from_:
            raise InstructionError("secret mount should not have a from")
        if mount.sharing:
            raise InstructionError("secret mount should not define sharing")
        if not (mount.source or mount.target or mount.id):
            raise InstructionError("invalid secret mount. one of source, target required")
        if mount.source and mount.id:
            raise InstructionError("both source and id can't be set")
    if mount.sharing and mount.type != "cache":
        raise InstructionError(f"invalid cache sharing set for {mount.type} mount")
    return mount


def _require_secret_or_ssh(mount: RunMount, key: str) -> None:
    if mount.type not in ("secret", "ssh"):
        raise InstructionError(f"unexpected key '{key}' for mount type '{mount.type}'")


def _go_bool(key: str, value: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    if value not in GO_BOOLS:
        raise InstructionError(f"invalid value for {key}: {value}")
    return GO_BOOLS[value]


def _unsigned(key: str, value: str, base: int) -> int:
    """Go's ``strconv.ParseUint(value, base, 32)``."""
    digits = "01234567" if base == 8 else "0123456789"
    if not value or any(char not in digits for char in value) or int(value, base) > 0xFFFFFFFF:
        raise InstructionError(f"invalid value {value} for {key}")
    return int(value, base)


def _ram_in_bytes(key: str, value: str) -> int:
    """docker/go-units ``RAMInBytes``: ``128m``, ``1.5g``, ``64MiB`` (binary multiples)."""
    match = _SIZE.fullmatch(value)
    if match is None or match.group(1).count(".") > 1:
        raise InstructionError(f"invalid value for {key}: {value}")
    multiplier = 1024 ** " kmgtp".index((match.group(2) or " ").lower())
    return int(float(match.group(1)) * multiplier)


def default_id(mount: RunMount) -> str:
    """The id BuildKit uses when ``id=`` is not given (cache: target, secret: source or target's basename)."""
    if mount.id:
        return mount.id
    match mount.type:
        case "cache":
            return mount.target
        case "secret":
            return mount.source or mount.target.rstrip("/").rsplit("/", 1)[-1]
        case "ssh":
            return "default"
    return ""
