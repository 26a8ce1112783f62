mkdir -p src/t/sub src/inner
echo f > src/t/f; echo s > src/t/sub/s; chmod 600 src/t/sub/s; chmod 750 src/t/sub
ln src/t/f src/t/hard; ln -s f src/t/soft; ln -s /abs/target src/t/abs-soft
echo i > src/inner/i
tar --numeric-owner --owner=0 --group=0 -C src -cf inner.tar inner
cp inner.tar src/t/nested.tar
tar --numeric-owner --owner=0 --group=0 -C src -cjf t.tar.bz2 t
tar --numeric-owner --owner=12 --group=34 -C src -czf t.tgz t
tar --numeric-owner --owner=0 --group=0 -C src -cf - t | gzip > noext
tar --numeric-owner --owner=0 --group=0 -C src/t -cf dotslash.tar .
tar --numeric-owner --owner=0 --group=0 -C src -cf multi1.tar inner
tar --numeric-owner --owner=0 --group=0 -C src -cf multi2.tar t/f
printf 'not really an archive\n' | gzip > single.txt.gz
rm -rf src
