# The static docker tarball's shape: docker/<binaries>, owned by a foreign uid (1000:1000).
mkdir -p t/docker
for b in docker dockerd containerd runc ctr docker-proxy; do printf '#!/bin/sh\necho "%s version 29.7.2"\n' $b > t/docker/$b; chmod 755 t/docker/$b; done
chmod 750 t/docker/runc
tar -C t --owner=1000 --group=1000 --mtime='2025-05-01 00:00:00' -czf docker.tgz docker
rm -rf t
