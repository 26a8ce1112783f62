# apache-tomcat-9.0.121/ as Apache ships it: group/other-unreadable files (hence chmod -R +rX),
# sh scripts, .bat files, the webapps, empty logs/temp/work.
a=t/apache-tomcat-9.0.121
mkdir -p $a/bin $a/conf $a/lib $a/logs $a/temp $a/work $a/webapps/ROOT/WEB-INF $a/webapps/docs
printf '#!/bin/sh\necho "Server version: Apache Tomcat/9.0.121"\n' > $a/bin/catalina.sh
printf '#!/bin/sh\nexec catalina.sh start\n' > $a/bin/startup.sh
echo '@echo off' > $a/bin/catalina.bat; echo '@echo off' > $a/bin/startup.bat
chmod 750 $a/bin/catalina.sh $a/bin/startup.sh
echo '<Server port="8005"/>' > $a/conf/server.xml; chmod 600 $a/conf/server.xml
echo jar > $a/lib/catalina.jar; chmod 640 $a/lib/catalina.jar
echo '<web-app/>' > $a/webapps/ROOT/WEB-INF/web.xml; echo docs > $a/webapps/docs/index.html
chmod 700 $a/conf $a/webapps/docs
mkdir -p dist
tar -C t --owner=0 --group=0 --mtime='2025-06-05 10:00:00' -czf dist/apache-tomcat-9.0.121.tar.gz apache-tomcat-9.0.121
rm -rf t
