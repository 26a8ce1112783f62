# node-v24.4.1-linux-x64/ (bin, lib/node_modules/npm, include, share) as nodejs.org ships it
# (owned by uid 1001 there, hence --no-same-owner), with its SHASUMS256.txt; yarn's tarball.
n=t/node-v24.4.1-linux-x64
mkdir -p $n/bin $n/lib/node_modules/npm/bin $n/include/node $n/share/doc/node node-dist
printf '#!/bin/sh\necho v24.4.1\n' > $n/bin/node
printf '#!/bin/sh\necho 11.4.2\n' > $n/lib/node_modules/npm/bin/npm-cli.js
chmod 755 $n/bin/node $n/lib/node_modules/npm/bin/npm-cli.js
ln -s ../lib/node_modules/npm/bin/npm-cli.js $n/bin/npm
ln -s ../lib/node_modules/npm/bin/npx-cli.js $n/bin/npx
echo '#define NODE_MAJOR_VERSION 24' > $n/include/node/node_version.h
echo 'changelog' > $n/share/doc/node/CHANGELOG.md; echo 'MIT' > $n/LICENSE
tar -C t --owner=1001 --group=1001 --mtime='2025-07-15 12:00:00' -czf node-dist/node-v24.4.1-linux-x64.tar.gz node-v24.4.1-linux-x64
(cd node-dist && sha256sum node-v24.4.1-linux-x64.tar.gz | sed 's/ \*/  /' > SHASUMS256.txt && echo "0000  node-v24.4.1-linux-arm64.tar.gz" >> SHASUMS256.txt)
rm -rf t
y=t/yarn-v1.22.22
mkdir -p $y/bin $y/lib
printf '#!/bin/sh\necho 1.22.22\n' > $y/bin/yarn; cp $y/bin/yarn $y/bin/yarnpkg; chmod 755 $y/bin/*
echo 'module.exports = {}' > $y/lib/cli.js
tar -C t --owner=501 --group=20 --mtime='2024-03-09 00:00:00' -czf yarn-v1.22.22.tar.gz yarn-v1.22.22
rm -rf t
