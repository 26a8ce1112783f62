mkdir -p sub/dir1/dir2 real
echo foo > real/foo; echo bar > bar; echo sf > sub/subfile; echo baz > baz
ln -s bar foo
ln -s subfile sub/l0
ln -s second sub/l1; ln -s ../baz sub/second
ln -s real link
ln -s /nowhere sub/dir1/dangling
ln -s ../subfile sub/dir1/up
echo d2 > sub/dir1/dir2/f
ln -s dir2 sub/dir1/dir2link
