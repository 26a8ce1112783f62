python3 - <<'PY'
import io, tarfile
def add(tar, name, data=b"", **kw):
    info = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)
with tarfile.open("odd.tar", "w", format=tarfile.PAX_FORMAT) as tar:
    add(tar, "/abs/file", b"abs\n")
    add(tar, "./dot/./file", b"dot\n")
    add(tar, "implied/parent/file", b"implied\n")
    add(tar, "modes/suid", b"s\n", mode=0o4755)
    add(tar, "modes/sticky", type=tarfile.DIRTYPE, mode=0o1777)
    add(tar, "modes/zero", b"z\n", mode=0)
    add(tar, "owners/f", b"o\n", uid=1234, gid=5678, uname="nosuch", gname="nosuch")
    add(tar, "owners/named", b"n\n", uid=4444, gid=4444, uname="daemon", gname="daemon")
    add(tar, "dev/null-like", type=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
    add(tar, "dev/fifo", type=tarfile.FIFOTYPE, mode=0o600)
    add(tar, "links/target", b"t\n")
    add(tar, "links/hard", type=tarfile.LNKTYPE, linkname="links/target")
    add(tar, "links/soft-abs", type=tarfile.SYMTYPE, linkname="/links/target")
    add(tar, "links/soft-up", type=tarfile.SYMTYPE, linkname="../../../etc/passwd")
    add(tar, "dup", b"first\n")
    add(tar, "dup", b"second\n")
    add(tar, "xattr/f", b"x\n", pax_headers={"SCHILY.xattr.user.note": "hello"})
    add(tar, "dir-then-file", type=tarfile.DIRTYPE, mode=0o700)
    add(tar, "dir-then-file/inner", b"i\n")
PY
