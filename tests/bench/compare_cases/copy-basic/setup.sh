mkdir -p emptydir/inner
echo secret > modes/private; chmod 600 modes/private
echo run > modes/exec; chmod 755 modes/exec
echo g > modes/groupw; chmod 664 modes/groupw
mkdir -p modes/d700; chmod 700 modes/d700
echo s > modes/setgid; chmod 2755 modes/setgid
chmod 750 dir/sub
