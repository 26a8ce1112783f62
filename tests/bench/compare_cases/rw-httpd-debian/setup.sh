# An httpd-2.4.68/ source-shaped tarball, owned by a build uid (as release tarballs are).
mkdir -p t/httpd-2.4.68/conf/extra t/httpd-2.4.68/bin t/httpd-2.4.68/htdocs
printf 'User daemon\nGroup daemon\nErrorLog "logs/error_log"\n    CustomLog "logs/access_log" common\n' > t/httpd-2.4.68/conf/httpd.conf
printf 'ErrorLog "${SRVROOT}/logs/error_log"\nTransferLog "${SRVROOT}/logs/access_log"\n' > t/httpd-2.4.68/conf/extra/httpd-ssl.conf
printf '#!/bin/sh\necho "Server version: Apache/2.4.68 (Unix)"\n' > t/httpd-2.4.68/bin/httpd
chmod 755 t/httpd-2.4.68/bin/httpd
echo '<html><body><h1>It works!</h1></body></html>' > t/httpd-2.4.68/htdocs/index.html
chmod 640 t/httpd-2.4.68/conf/extra/httpd-ssl.conf
tar -C t --owner=1001 --group=1001 --mtime='2025-07-10 08:00:00' -czf httpd.tar.gz httpd-2.4.68
rm -rf t
