"""Tar headers byte for byte as Go's ``archive/tar`` writes them for containerd's and moby's layer differs.

Those differs ask for ``tar.FormatPAX``, which Go treats as "USTAR when it fits, else PAX":

* USTAR (``ustar\\x0000``) when every field fits, a path over 100 bytes split into prefix and
  name when it can be; devmajor/devminor are written as octal zeros for every entry type.
* PAX otherwise: an extended header named ``<dir>/PaxHeaders.0/<base>`` (mode, ids and mtime
  0) whose records are sorted by key, then the main header with ASCII-only, truncated strings
  and 0 for the numbers that did not fit.
* The archive ends with two zero blocks, without Python's padding to a 10 KiB record.

User and group names are always empty: layers carry numeric ids only. Matching these bytes gives
the same diffID as BuildKit for the same files, owners and times.

A layer has one header per file, so the USTAR case is one formatting of the numeric fields, the
tail (bytes 156-511) and its byte sum precomputed for entries without link name, prefix or device,
and a checksum summed over the unpadded fields only.
"""
from __future__ import annotations

import posixpath
import struct
from collections.abc import Mapping

BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
REGTYPE, LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE = b"0", b"1", b"2", b"3", b"4", b"5", b"6"
_NAME, _PREFIX = 100, 155
_USTAR_MAGIC = b"ustar\x0000"
# Bytes 0-147: name, mode, uid, gid, size, mtime. Bytes 156-511: type flag, linkname, magic and
# version, uname, gname, devmajor, devminor, prefix, padding. struct's "s" pads with NULs.
_HEAD = struct.Struct("100s8s8s8s12s12s")
_TAIL = struct.Struct("c100s8s32s32s8s8s155s12x")
_CHECKSUM_AS_SPACES = 8 * ord(" ")
_LIMIT_8, _LIMIT_12 = 1 << 21, 1 << 33  # the first values that no longer fit 7 / 11 octal digits
_ZERO_8 = b"0000000"
_ZERO_12 = b"00000000000"


def _tail(typeflag: bytes, linkname: bytes, devmajor: bytes, devminor: bytes, prefix: bytes) -> tuple[bytes, int]:
    """Bytes 156-511 and their sum (for the checksum)."""
    tail = _TAIL.pack(typeflag, linkname, _USTAR_MAGIC, b"", b"", devmajor, devminor, prefix)
    return tail, sum(tail)


# Tails of entries without link name, prefix or device number (nearly all), with their sums.
_PLAIN_TAILS = {flag: _tail(flag, b"", _ZERO_8, _ZERO_8, b"")
                for flag in (REGTYPE, LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE)}


def header(name: str, typeflag: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
           linkname: str = "", devmajor: int = 0, devminor: int = 0,
           pax_records: Mapping[bytes, bytes] | None = None) -> bytes:
    """The header block(s) Go's tar writer emits for one entry (file data and padding not included).

    ``pax_records`` (``SCHILY.xattr.*``) can only travel in PAX, so an entry with some is PAX.
    """
    raw_name = name.encode("utf-8", "surrogateescape")
    if typeflag == DIRTYPE and not raw_name.endswith(b"/"):
        raw_name += b"/"
    raw_link = linkname.encode("utf-8", "surrogateescape") if linkname else b""
    mtime = max(mtime, 0)
    if not pax_records:
        block = _ustar(raw_name, typeflag, mode, uid, gid, size, mtime, raw_link, devmajor, devminor)
        if block is not None:
            return block
    return _pax(raw_name, typeflag, mode, uid, gid, size, mtime, raw_link, devmajor, devminor, pax_records or {})


def _ustar(name: bytes, typeflag: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
           linkname: bytes, devmajor: int, devminor: int) -> bytes | None:
    """The USTAR block, or None when a field does not fit (then the entry is PAX)."""
    if not (0 <= uid < _LIMIT_8 and 0 <= gid < _LIMIT_8 and 0 <= size < _LIMIT_12):
        return None
    if len(linkname) > _NAME or not linkname.isascii():
        return None
    prefix = b""
    if len(name) > _NAME or not name.isascii():
        split = _split_ustar(name)
        if split is None:
            return None
        prefix, name = split
    # The numeric fields of bytes 100-147, each NUL-terminated; a byte sum over the unpadded
    # name and these is the sum of the whole head, padding being NULs.
    numbers = b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (mode & 0o7777, uid, gid, size,
                                                       mtime if mtime < _LIMIT_12 else 0)
    if linkname or prefix or devmajor or devminor or typeflag not in _PLAIN_TAILS:
        tail, tail_sum = _tail(typeflag, linkname, _octal(devmajor, 7), _octal(devminor, 7), prefix)
    else:
        tail, tail_sum = _PLAIN_TAILS[typeflag]
    checksum = sum(name) + sum(numbers) + tail_sum + _CHECKSUM_AS_SPACES
    return b"%s%s%06o\0 %s" % (name.ljust(_NAME, b"\0"), numbers, checksum, tail)


def _pax(name: bytes, typeflag: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
         linkname: bytes, devmajor: int, devminor: int, extra: Mapping[bytes, bytes]) -> bytes:
    records: dict[bytes, bytes] = {}
    if not _fits_string(name, _NAME):
        records[b"path"] = name
    if not _fits_string(linkname, _NAME):
        records[b"linkpath"] = linkname
    for key, value, digits in ((b"uid", uid, 7), (b"gid", gid, 7), (b"size", size, 11)):
        if not _fits_octal(value, digits):
            records[key] = str(value).encode()
    for key, value in extra.items():
        records.setdefault(key, value)
    payload = b"".join(_record(key, records[key]) for key in sorted(records))
    head = _HEAD.pack(_ascii(name), _octal(mode & 0o7777, 7), _octal(uid, 7), _octal(gid, 7), _octal(size, 11),
                      _octal(mtime, 11))
    tail = _tail(typeflag, _ascii(linkname), _octal(devmajor, 7), _octal(devminor, 7), b"")
    return _pax_extension(name, payload) + _checksummed(head, *tail)


def _fits_string(value: bytes, size: int) -> bool:
    return len(value) <= size and value.isascii()


def _fits_octal(value: int, digits: int) -> bool:
    return 0 <= value < 1 << (digits * 3)


def _octal(value: int, digits: int) -> bytes:
    """Go's formatOctal: zero-padded (the NUL terminator comes from the field's padding); 0 when it does not fit."""
    return b"%0*o" % (digits, value if _fits_octal(value, digits) else 0)


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
    """Go's writeRawFile: no user or device fields at all (NULs, not octal zeros)."""
    directory, base = posixpath.split(_ascii(name).decode("ascii"))
    ext_name = posixpath.join(directory, "PaxHeaders.0", base).encode("ascii")[:_NAME].rstrip(b"/")
    head = _HEAD.pack(ext_name, _ZERO_8, _ZERO_8, _ZERO_8, _octal(len(payload), 11), _ZERO_12)
    return _checksummed(head, *_tail(b"x", b"", b"", b"", b"")) + payload + b"\0" * (-len(payload) % BLOCK)


def _checksummed(head: bytes, tail: bytes, tail_sum: int) -> bytes:
    """Go's checksum: the unsigned byte sum with the field as spaces, six octal digits, NUL, space."""
    return b"%s%06o\0 %s" % (head, sum(head) + tail_sum + _CHECKSUM_AS_SPACES, tail)
