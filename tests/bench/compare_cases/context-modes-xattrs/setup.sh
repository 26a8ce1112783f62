mkdir -p ctx
echo s > ctx/suid; chmod 4755 ctx/suid
echo g > ctx/sgid; chmod 2750 ctx/sgid
mkdir ctx/sticky; chmod 1777 ctx/sticky
echo x > ctx/with-xattr
python3 -c "import os; os.setxattr('ctx/with-xattr', 'user.comment', b'hello'); os.setxattr('ctx/with-xattr', 'user.empty', b'')"
echo c > ctx/with-cap
setcap cap_net_raw+ep ctx/with-cap
mkdir ctx/xattr-dir
python3 -c "import os; os.setxattr('ctx/xattr-dir', 'user.dir', b'd')"
python3 - <<'PY'
import io, tarfile
capability = "\x01\x00\x00\x02\x00 \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"  # cap_net_raw+ep
with tarfile.open("cap.tar", "w", format=tarfile.PAX_FORMAT) as tar:
    member = tarfile.TarInfo("capfile")
    member.size, member.mode = 8, 0o755
    member.pax_headers = {"SCHILY.xattr.security.capability": capability, "SCHILY.xattr.user.note": "n"}
    tar.addfile(member, io.BytesIO(b"capfile\n"))
PY
