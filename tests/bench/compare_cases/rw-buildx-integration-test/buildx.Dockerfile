# Adapted from docker/buildx Dockerfile (real-world corpus): ARGs before the first FROM, a scratch
# "xx" stage copied with COPY --from=xx / /, ENV + WORKDIR in a base stage, RUN heredocs with
# bind (target=.), cache and from=<stage> file mounts, COPY --chmod=755 of a quoted heredoc,
# COPY --link --from into scratch stages, FROM binaries-$TARGETOS stage aliases, a releaser
# with --mount=from=binaries (bind by default) naming files after $TARGETPLATFORM, and the
# final FROM binaries. The Go toolchain is a stand-in script in the context.
ARG GO_VERSION=1.26
ARG XX_VERSION=1.9.0
ARG BUILDKIT_VERSION=v0.32.1

FROM scratch AS xx
COPY xx/ /

FROM busybox:local AS golatest
RUN mkdir -p /go/bin /usr/local/go && echo "go${GO_VERSION:-unset}" > /usr/local/go/VERSION

FROM golatest AS gobase
COPY --from=xx / /
ENV GOFLAGS=-mod=vendor
ENV CGO_ENABLED=0
WORKDIR /src

FROM gobase AS gotestsum
ARG GOTESTSUM_VERSION=v1.13.0
ENV GOFLAGS=""
RUN --mount=target=/root/.cache,type=cache <<EOT
  set -ex
  mkdir -p /go/bin /out
  echo "gotestsum ${GOTESTSUM_VERSION}" > /go/bin/gotestsum
  echo "gocovmerge" > /go/bin/gocovmerge
  chmod 755 /go/bin/gotestsum /go/bin/gocovmerge
  echo built > /root/.cache/marker
  mv /go/bin/gotestsum /out
  mv /go/bin/gocovmerge /out
EOT
COPY --chmod=755 <<"EOF" /out/gotestsumandcover
#!/bin/sh
set -x
if [ -z "$GO_TEST_COVERPROFILE" ]; then
  exec gotestsum "$@"
fi
coverdir="$(dirname "$GO_TEST_COVERPROFILE")"
mkdir -p "$coverdir/helpers"
gotestsum "$@" "-coverprofile=$GO_TEST_COVERPROFILE"
exit $ecode
EOF

FROM gobase AS buildx-version
RUN --mount=type=bind,target=. <<EOT
  set -e
  PKG=github.com/docker/buildx
  VERSION=$(cat VERSION)
  REVISION=0123456789abcdef
  echo "-X ${PKG}/version.Version=${VERSION} -X ${PKG}/version.Revision=${REVISION} -X ${PKG}/version.Package=${PKG}" | tee /tmp/.ldflags
  echo -n "${VERSION}" | tee /tmp/.version
EOT

FROM gobase AS buildx-build
ARG TARGETPLATFORM
ARG GO_EXTRA_FLAGS
RUN --mount=type=bind,target=. \
  --mount=type=cache,target=/root/.cache \
  --mount=type=cache,target=/go/pkg/mod \
  --mount=type=bind,from=buildx-version,source=/tmp/.ldflags,target=/tmp/.ldflags <<EOT
  set -ex
  xx-go build -trimpath ${GO_EXTRA_FLAGS} -ldflags "-s -w $(cat /tmp/.ldflags)" -o /usr/bin/docker-buildx ./cmd/buildx
  xx-verify --static /usr/bin/docker-buildx
EOT

FROM scratch AS binaries-unix
COPY --link --from=buildx-build /usr/bin/docker-buildx /buildx

FROM binaries-unix AS binaries-darwin
FROM binaries-unix AS binaries-linux

FROM scratch AS binaries-windows
COPY --link --from=buildx-build /usr/bin/docker-buildx /buildx.exe

FROM binaries-$TARGETOS AS binaries
# enable scanning for this stage
ARG BUILDKIT_SBOM_SCAN_STAGE=true

FROM gobase AS integration-test-base
COPY --link --from=gotestsum /out /usr/bin/
COPY --link --from=binaries /buildx /usr/bin/
RUN mkdir -p /usr/local/lib/docker/cli-plugins && ln -s /usr/bin/buildx /usr/local/lib/docker/cli-plugins/docker-buildx
ENV TEST_DOCKER_EXTRA="docker@28.5=/opt/docker-alt-28,docker@27.5=/opt/docker-alt-27"

FROM integration-test-base AS integration-test
COPY . .

FROM busybox:local AS releaser
WORKDIR /work
ARG TARGETPLATFORM
RUN --mount=from=binaries \
  --mount=type=bind,from=buildx-version,source=/tmp/.version,target=/tmp/.version <<EOT
  set -e
  mkdir -p /out
  cp buildx* "/out/buildx-$(cat /tmp/.version).$(echo $TARGETPLATFORM | sed 's/\//-/g')$(ls buildx* | sed -e 's/^buildx//')"
EOT

FROM scratch AS release
COPY --from=releaser /out/ /

FROM busybox:local AS shell
RUN mkdir -p /usr/local/bin
RUN mkdir -p /usr/local/lib/docker/cli-plugins && ln -s /usr/local/bin/buildx /usr/local/lib/docker/cli-plugins/docker-buildx
COPY ./hack/demo-env/entrypoint.sh /usr/local/bin
COPY ./hack/demo-env/tmux.conf /root/.tmux.conf
WORKDIR /work
COPY ./hack/demo-env/examples .
COPY --from=binaries / /usr/local/bin/
VOLUME /var/lib/docker
ENTRYPOINT ["entrypoint.sh"]

FROM binaries
