# A toolchain-shaped tarball with fixed mtimes, owners and modes (upstream downloads go*.tar.gz).
mkdir -p t/go/bin t/go/src/runtime t/go/pkg/tool/linux_amd64 t/go/misc
printf '#!/bin/sh\necho "go version go1.27.0 linux/amd64"\n' > t/go/bin/go
printf '#!/bin/sh\necho gofmt\n' > t/go/bin/gofmt
echo 'package runtime' > t/go/src/runtime/proc.go
echo 'GOTOOLCHAIN=auto' > t/go/go.env
echo compile > t/go/pkg/tool/linux_amd64/compile
ln -s ../../bin/go t/go/misc/go-link
chmod 755 t/go/bin/go t/go/bin/gofmt t/go/pkg/tool/linux_amd64/compile
chmod 700 t/go/misc
tar -C t --owner=0 --group=0 --mtime='2025-08-01 12:00:00' -czf go.tgz go
rm -rf t
