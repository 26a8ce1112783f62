mkdir -p ctx/sub
echo f > ctx/f
mkfifo ctx/fifo
python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind("ctx/sock")'
chmod 000 ctx/f
mkdir -m 000 ctx/locked && true
chmod 4755 ctx/sub
ln -s sub/../f ctx/relative-up
ln -s . ctx/self-loop
mknod ctx/chardev c 1 3 && chmod 640 ctx/chardev
