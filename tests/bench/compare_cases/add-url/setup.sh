mkdir -p www
echo hello > www/hello.txt
printf '#!/bin/sh\necho script\n' > www/script.sh
mkdir -p src && echo x > src/x && tar -C src -czf www/archive.tar.gz x && rm -rf src
