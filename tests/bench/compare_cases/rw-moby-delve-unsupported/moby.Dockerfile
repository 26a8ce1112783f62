# Adapted from moby/moby Dockerfile (real-world corpus): the global ARG chain computing
# DELVE_SUPPORTED from TARGETPLATFORM with ${VAR#prefix}, ${VAR:+"unsupported"} and
# ${VAR:-"supported"} (quotes inside the modifiers), stage aliases chosen by ARG
# (FROM delve-${DELVE_SUPPORTED} AS delve, FROM containerd-${TARGETOS} AS containerd),
# FROM --platform=$BUILDPLATFORM, a scratch "binary-dummy" stage, a base with the apt
# Keep-Downloaded-Packages setting and a real apt install, apt installs under
# --mount=type=cache,sharing=locked,id=... on /var/lib/apt and /var/cache/apt (what apt writes
# there stays out of the image), --mount=from=<stage>,src=...,rw with cache mounts keyed by
# $TARGETPLATFORM, and a final stage taking /build/ from the chosen stages. The Go builds and
# the git ADD are stand-ins; apt's logs are removed. rw-moby-delve-unsupported overrides the ARG.
ARG BASE_DEBIAN_DISTRO="local"
ARG GOLANG_IMAGE="debian:${BASE_DEBIAN_DISTRO}"

ARG DELVE_SUPPORTED=${TARGETPLATFORM#linux/amd64}
ARG DELVE_SUPPORTED=${DELVE_SUPPORTED#linux/arm64}
ARG DELVE_SUPPORTED=${DELVE_SUPPORTED#linux/ppc64le}
ARG DELVE_SUPPORTED=${DELVE_SUPPORTED#linux/riscv64}
ARG DELVE_SUPPORTED=${DELVE_SUPPORTED:+"unsupported"}
ARG DELVE_SUPPORTED=${DELVE_SUPPORTED:-"supported"}

# dummy stage to make sure the image is built for deps that don't support some
# architectures
FROM --platform=$BUILDPLATFORM busybox:local AS build-dummy
RUN mkdir -p /build
FROM scratch AS binary-dummy
COPY --from=build-dummy /build /build

# base
FROM --platform=$BUILDPLATFORM ${GOLANG_IMAGE} AS base
RUN echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache
RUN --mount=type=cache,sharing=locked,id=moby-base-aptlib,target=/var/lib/apt \
    --mount=type=cache,sharing=locked,id=moby-base-aptcache,target=/var/cache/apt \
        apt-get update && apt-get install --no-install-recommends -y file \
        && rm -rf /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/debconf/*-old /var/cache/ldconfig/aux-cache \
        && ls /var/cache/apt/archives/*.deb > /dev/null
ENV GOTOOLCHAIN=local

# delve
FROM base AS delve-src
WORKDIR /usr/src/delve
ARG DELVE_VERSION=v1.26.3
COPY delve/ .
RUN echo "${DELVE_VERSION}" > VERSION

FROM base AS delve-supported
WORKDIR /usr/src/delve
ARG TARGETPLATFORM
RUN --mount=from=delve-src,src=/usr/src/delve,rw \
    --mount=type=cache,target=/root/.cache/go-build,id=delve-build-$TARGETPLATFORM \
    --mount=type=cache,target=/go/pkg/mod <<EOT
  set -ex
  mkdir -p /build
  echo "dlv $(cat VERSION) for ${TARGETPLATFORM}" > /build/dlv
  chmod 755 /build/dlv
  echo scribble > VERSION
  test -x /build/dlv
EOT

FROM binary-dummy AS delve-unsupported
FROM delve-${DELVE_SUPPORTED} AS delve

FROM base AS containerd-build
WORKDIR /go/src/github.com/containerd/containerd
COPY containerd/ .
ARG DOCKER_STATIC=1
RUN <<EOT
  set -e
  make_flags=
  verify_flags=
  cgo_enabled=1
  if [ "$DOCKER_STATIC" = "1" ]; then
      make_flags=STATIC=1
      verify_flags=--static
      cgo_enabled=0
  fi
  mkdir /build
  for b in containerd containerd-shim-runc-v2 ctr; do
    printf '#!/bin/sh\necho "%s %s cgo=%s"\n' "$b" "$make_flags" "$cgo_enabled" > /build/$b
    chmod 755 /build/$b
  done
EOT

FROM containerd-build AS containerd-linux
FROM binary-dummy AS containerd-windows
FROM containerd-${TARGETOS} AS containerd

FROM base AS dev
COPY --from=delve /build/ /usr/local/bin/
COPY --from=containerd /build/ /usr/local/bin/
RUN ls -l /usr/local/bin > /bin-listing && echo "delve: $(cat /usr/src/delve/VERSION 2>/dev/null || echo none)" >> /bin-listing
