mkdir -p src/tmp/symlink-target src/dir
ln -s ../tmp/symlink-target src/symlink
ln -s /tmp/symlink-target src/abslink
echo x > src/dir/x
tar --numeric-owner --owner=0 --group=0 -C src -cf t.tar symlink abslink tmp
tar --numeric-owner --owner=0 --group=0 -C src -cf d.tar dir
rm -rf src
echo foo > foo
