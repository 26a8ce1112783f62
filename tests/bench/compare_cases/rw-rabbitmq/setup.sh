# rabbitmq_server-4.3.2/ (sbin scripts, plugins, escript) as the generic-unix release ships it.
r=t/rabbitmq_server-4.3.2
mkdir -p $r/sbin $r/plugins/rabbitmq_prometheus-4.3.2/ebin $r/plugins/rabbitmq_management-4.3.2/ebin $r/escript
printf '#!/bin/sh\nSYS_PREFIX=${RABBITMQ_HOME}\n' > $r/sbin/rabbitmq-defaults
printf '#!/bin/sh\n# writes the erlang cookie on first use, as the real tools do\n[ -e "$HOME/.erlang.cookie" ] || { echo COOKIE > "$HOME/.erlang.cookie"; chmod 400 "$HOME/.erlang.cookie"; }\necho "rabbitmqctl $*"\n' > $r/sbin/rabbitmqctl
printf '#!/bin/sh\nif [ "$1" = enable ]; then shift; [ "$1" = --offline ] && shift; echo "[$1]." > "${RABBITMQ_DATA_DIR:-/var/lib/rabbitmq}/enabled_plugins"; fi\necho "plugins $*"\n' > $r/sbin/rabbitmq-plugins
printf '#!/bin/sh\nexec echo server\n' > $r/sbin/rabbitmq-server
chmod 755 $r/sbin/*
echo beam > $r/plugins/rabbitmq_prometheus-4.3.2/ebin/x.beam; echo beam > $r/plugins/rabbitmq_management-4.3.2/ebin/y.beam
echo escript > $r/escript/rabbitmqctl
tar -C t --owner=0 --group=0 --mtime='2025-08-01 00:00:00' -czf rabbitmq-server-generic-unix-4.3.2.tar.gz rabbitmq_server-4.3.2
rm -rf t
