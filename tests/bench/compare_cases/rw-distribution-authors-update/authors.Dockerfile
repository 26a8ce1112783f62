# Adapted from distribution/distribution dockerfiles/authors.Dockerfile (real-world corpus): ARG
# in FROM, WORKDIR /src, RUN --mount=type=bind,target=. with a heredoc script, a scratch stage
# taking the output dir with COPY --from=gen /out /, and a validate stage (the default target)
# whose rw bind mount writes into the context copy, which must not reach the image.
# `git log` is replaced by reading a list of commits kept in the context.
ARG ALPINE_VERSION=local

FROM busybox:${ALPINE_VERSION} AS gen
RUN mkdir -p /usr/share/gen && echo git > /usr/share/gen/tools
WORKDIR /src
RUN --mount=type=bind,target=. <<EOT
  set -e
  mkdir /out
  # see also ".mailmap" for how email addresses and names are deduplicated
  {
    echo "# This file lists all individuals having contributed content to the repository."
    echo "# For how it is generated, see dockerfiles/authors.Dockerfile."
    echo
    cut -d'|' -f2 commits.log | LC_ALL=C sort -uf
  } > /out/AUTHORS
  cat /out/AUTHORS
EOT

FROM scratch AS update
COPY --from=gen /out /

FROM gen AS validate
RUN --mount=type=bind,target=.,rw <<EOT
  set -e
  cp -rf /out/* .
  if ! cmp -s AUTHORS /out/AUTHORS; then
    echo >&2 'ERROR: Authors result differs. Please update with "make authors"'
    exit 1
  fi
  echo validated > /validated
EOT
