d=$(printf 'd%.0s' $(seq 60))
f=$(printf 'f%.0s' $(seq 150))
mkdir -p long/$d/$d/$d
echo long > long/$f
echo deep > long/$d/$d/$d/$f
ln -s $d/$d/$d/$f long/symlink-with-long-target
ln long/$f long/hardlink-$f
ln -s short long/$(printf 'l%.0s' $(seq 120))
echo ü > "long/ünïcödé-$(printf 'u%.0s' $(seq 90))"
