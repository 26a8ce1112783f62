mkdir -p src/tree/sub
echo f > src/tree/f.txt; echo s > src/tree/sub/s.txt; chmod 640 src/tree/sub/s.txt; chmod 700 src/tree/sub
ln -s f.txt src/tree/link
tar --owner=1000 --group=1000 --numeric-owner -C src -czf a.tar.gz tree
tar --owner=0 --group=0 --numeric-owner -C src -cf b.tar tree/f.txt
tar --owner=33 --group=33 --numeric-owner -C src -cJf c.tar.xz tree
rm -rf src
