# compare: dockerfile app.Dockerfile
FROM busybox:local
COPY . /ctx/
