mkdir -p ctx/emptydir/nested/deeper ctx/emptydir700
chmod 700 ctx/emptydir700
truncate -s 4M ctx/sparse
printf 'data' | dd of=ctx/sparse-with-data bs=1 seek=3000000 conv=notrunc 2>/dev/null
: > ctx/empty
: > ctx/empty-exec; chmod 755 ctx/empty-exec
