mkdir -p src; echo x > src/x; tar -C src -czf a.tar.gz x; rm -rf src
