# jdk-21.0.12+8-jre/ as the release tarball has it (bin/java, lib/*.so in two dirs, conf, legal
# symlinks), owned by a build uid.
j=t/jdk-21.0.12+8-jre
mkdir -p $j/bin $j/lib/server $j/conf/security $j/legal/java.base
printf '#!/bin/sh\nif [ "$1" = -Xshare:dump ]; then touch "$JAVA_HOME/lib/server/classes.jsa"; exit 0; fi\necho "openjdk 21.0.12 2025-07-15 LTS"\n' > $j/bin/java
chmod 755 $j/bin/java; cp $j/bin/java $j/bin/keytool
echo so > $j/lib/libjava.so; echo so > $j/lib/server/libjvm.so; echo modules > $j/lib/modules
echo 'security.provider.1=SUN' > $j/conf/security/java.security
echo 'license' > $j/legal/java.base/LICENSE; ln -s ../java.base/LICENSE $j/legal/java.base/ASSEMBLY_EXCEPTION
echo 'JAVA_VERSION="21.0.12"' > $j/release
tar -C t --owner=1000 --group=1000 --mtime='2025-07-16 00:00:00' -czf OpenJDK21U-jre_x64_linux_hotspot_21.0.12_8.tar.gz jdk-21.0.12+8-jre
rm -rf t
