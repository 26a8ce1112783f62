chmod 700 d
# archives whose member a/b/file implies a/ and a/b/ (no entries), and one that names them
mkdir -p t/a/b && echo x > t/a/b/file
(cd t && tar --owner=0 --group=0 -cf ../implied.tar a/b/file && tar --no-recursion --owner=0 --group=0 -cf ../named.tar a a/b a/b/file)
rm -rf t
