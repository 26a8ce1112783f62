# fixed mtimes, so COPY layers can be byte-identical between the engines
mkdir -p tree/sub "tree/$(printf 'd%.0s' $(seq 60))/$(printf 'd%.0s' $(seq 60))"
echo plain > tree/plain; echo s > tree/sub/s; : > tree/empty
echo long > "tree/$(printf 'n%.0s' $(seq 120))"
echo deep > "tree/$(printf 'd%.0s' $(seq 60))/$(printf 'd%.0s' $(seq 60))/short"
ln tree/plain tree/hardlink; ln -s "$(printf 't%.0s' $(seq 130))" tree/long-target
chmod 4755 tree/sub/s; chmod -R go-w tree
find tree -exec touch -h -d @1600000000 {} +
