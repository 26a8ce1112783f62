# A python/prefix/ tree as `make install` leaves it: bin/ with a versioned binary and links,
# lib/python3.14 with test dirs, .pyc files and a static lib, owned by a build uid.
p=t/python/prefix
mkdir -p $p/bin $p/lib/python3.14/test/data $p/lib/python3.14/json/tests $p/lib/python3.14/idlelib/idle_test \
  $p/lib/python3.14/__pycache__ $p/include/python3.14 $p/lib/pkgconfig
printf '#!/bin/sh\necho "Python 3.14.6"\n' > $p/bin/python3.14
for b in idle3.14 pydoc3.14 pip3 pip3.14 python3.14-config; do printf '#!/bin/sh\necho "%s"\n' $b > $p/bin/$b; done
chmod 755 $p/bin/*
ln -s python3.14 $p/bin/python3; ln -s idle3.14 $p/bin/idle3; ln -s pydoc3.14 $p/bin/pydoc3
ln -s python3.14-config $p/bin/python3-config
echo 'import os' > $p/lib/python3.14/os.py; echo pyc > $p/lib/python3.14/__pycache__/os.cpython-314.pyc
echo t > $p/lib/python3.14/test/data/x; echo t > $p/lib/python3.14/json/tests/test_x.py
echo t > $p/lib/python3.14/idlelib/idle_test/t.py; echo a > $p/lib/python3.14/libpython3.14.a
echo '#define PY 1' > $p/include/python3.14/Python.h; echo 'Name: python' > $p/lib/pkgconfig/python3.pc
ln -s python3.pc $p/lib/pkgconfig/python-3.14.pc
chmod 555 $p/lib/python3.14/json
tar -C t --owner=1000 --group=1000 --mtime='2025-06-01 00:00:00' -czf python.tar.gz python
chmod -R u+w t; rm -rf t
