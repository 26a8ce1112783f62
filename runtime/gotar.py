"""Tar headers byte for byte as Go's ``archive/tar`` writes them for containerd's and moby's layer differs.

Those differs ask for ``tar.FormatPAX``, which Go treats as "USTAR when it fits, else PAX":

* USTAR (``ustar\\x0000``) when every field fits, a path over 100 bytes split into prefix and
  name when it can be; devmajor/devminor are written as octal zeros for every entry type.
* PAX otherwise: an extended header named ``<dir>/PaxHeaders.0/<base>`` (mode, ids and mtime
  0) whose records are sorted by key, then the main header with ASCII-only, truncated strings
  and 0 for the numbers that did not fit.
* The archive ends with two zero blocks, without Python's padding to a 10 KiB record.

Matching these bytes gives the same diffID as BuildKit for the same files, owners and times.
"""
from __future__ import annotations

import posixpath
import tarfile

BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
_NAME, _PREFIX = 100, 155
_USTAR_MAGIC = b"ustar\x0000"


def header_bytes(info: tarfile.TarInfo) -> bytes:
    """The header block(s) Go's tar writer emits for ``info`` (file data and padding not included)."""
    name = _raw(info.name + "/" if info.type == tarfile.DIRTYPE and not info.name.endswith("/") else info.name)
    linkname = _raw(info.linkname)
    records: dict[bytes, bytes] = {}
    ustar = True
    if not _fits_string(name, _NAME):
        records[b"path"] = name
        ustar = ustar and _split_ustar(name) is not None
    if not _fits_string(linkname, _NAME):
        records[b"linkpath"] = linkname
        ustar = False
    for key, value, size in ((b"uid", info.uid, 8), (b"gid", info.gid, 8), (b"size", info.size, 12)):
        if not _fits_octal(value, size):
            records[key] = str(value).encode()
            ustar = False
    for key, value in info.pax_headers.items():  # SCHILY.xattr.* records: only PAX carries them
        records.setdefault(key.encode("utf-8", "surrogateescape"), value.encode("utf-8", "surrogateescape"))
        ustar = False
    if ustar:
        prefix, short = _split_ustar(name) or (b"", name)
        return _block(info, short, linkname, prefix)
    payload = b"".join(_record(key, records[key]) for key in sorted(records))
    return _pax_extension(name, payload) + _block(info, _ascii(name), _ascii(linkname), b"")


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _fits_string(value: bytes, size: int) -> bool:
    return len(value) <= size and value.isascii()


def _fits_octal(value: int, size: int) -> bool:
    return 0 <= value < 1 << ((size - 1) * 3)


def _ascii(value: bytes) -> bytes:
    """Go's toASCII: the string's runes below 0x80 (NUL and invalid bytes dropped)."""
    if value.isascii():
        return value
    return bytes(c for c in value.decode("utf-8", "replace").encode("utf-8", "replace") if 0 < c < 0x80)


def _split_ustar(name: bytes) -> tuple[bytes, bytes] | None:
    """Go's splitUSTARPath: (prefix, name) around a slash, when both parts fit."""
    if len(name) <= _NAME or not name.isascii():
        return None
    length = len(name)
    if length > _PREFIX + 1:
        length = _PREFIX + 1
    elif name[length - 1:length] == b"/":
        length -= 1
    cut = name.rfind(b"/", 0, length)
    suffix_length = len(name) - cut - 1
    if cut <= 0 or suffix_length > _NAME or suffix_length == 0 or cut > _PREFIX:
        return None
    return name[:cut], name[cut + 1:]


def _record(key: bytes, value: bytes) -> bytes:
    """One PAX record, ``"<length> key=value\\n"`` where length counts itself."""
    size = len(key) + len(value) + 3
    size += len(str(size))
    record = b"%d %s=%s\n" % (size, key, value)
    if len(record) != size:
        record = b"%d %s=%s\n" % (len(record), key, value)
    return record


def _pax_extension(name: bytes, payload: bytes) -> bytes:
    directory, base = posixpath.split(_ascii(name).decode("ascii"))
    ext_name = posixpath.join(directory, "PaxHeaders.0", base).encode("ascii")[:_NAME].rstrip(b"/")
    block = bytearray(BLOCK)
    _put_string(block, 0, _NAME, ext_name)
    for offset, size, value in ((100, 8, 0), (108, 8, 0), (116, 8, 0), (124, 12, len(payload)), (136, 12, 0)):
        _put_octal(block, offset, size, value)
    block[156:157] = b"x"
    block[257:265] = _USTAR_MAGIC
    padding = -len(payload) % BLOCK
    return _checksummed(block) + payload + b"\0" * padding


def _block(info: tarfile.TarInfo, name: bytes, linkname: bytes, prefix: bytes) -> bytes:
    block = bytearray(BLOCK)
    _put_string(block, 0, _NAME, name)
    for offset, size, value in ((100, 8, info.mode & 0o7777), (108, 8, info.uid), (116, 8, info.gid),
                                (124, 12, info.size), (136, 12, max(int(info.mtime), 0)),
                                (329, 8, info.devmajor), (337, 8, info.devminor)):
        _put_octal(block, offset, size, value)
    block[156:157] = info.type
    _put_string(block, 157, _NAME, linkname)
    block[257:265] = _USTAR_MAGIC
    _put_string(block, 265, 32, _ascii(_raw(info.uname)))
    _put_string(block, 297, 32, _ascii(_raw(info.gname)))
    _put_string(block, 345, _PREFIX, prefix)
    return _checksummed(block)


def _put_string(block: bytearray, offset: int, size: int, value: bytes) -> None:
    value = value[:size]
    block[offset:offset + len(value)] = value


def _put_octal(block: bytearray, offset: int, size: int, value: int) -> None:
    """Go's formatOctal: zero-padded, NUL-terminated; 0 when the value does not fit."""
    if not _fits_octal(value, size):
        value = 0
    _put_string(block, offset, size, b"%0*o" % (size - 1, value))


def _checksummed(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:155] = b"%06o\0" % sum(block)
    return bytes(block)
