# Offline stand-in for golang:1.15.6-alpine, the book's way out of the activity's
# trap: the same Go 1.15 with cgo linking against musl (Debian's musl-tools gives
# musl-gcc), so that the binary runs on alpine as it is, CGO_ENABLED left on.
ARG BASE=labutils-golang:1.15
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
ENV CC=musl-gcc
