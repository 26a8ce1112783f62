mkdir -p src/t && echo data > src/t/f && ln -s f src/t/l
tar --numeric-owner --owner=0 --group=0 -C src -cf plain.tar t
gzip -c plain.tar > g.tar.gz
xz -c plain.tar > weird-name.bin
bzip2 -c plain.tar > b.tbz
if command -v zstd >/dev/null; then zstd -q -c plain.tar > z.tar.zst; else cp plain.tar z.tar.zst; fi
gzip -c plain.tar | gzip -c > double.tar.gz.gz
echo not-an-archive > fake.tar
mkdir dir-of-tars && cp plain.tar g.tar.gz dir-of-tars/
rm -rf src
