# Offline stand-in for the official golang image: Debian's Go toolchain on a
# debootstrapped bookworm. GO111MODULE=auto lets `go build -o welcome .` work in
# a folder without go.mod, as it did on Go 1.15.
ARG BASE=labutils-debian:bookworm
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends golang-go gcc libc6-dev file \
 && rm -rf /var/lib/apt/lists/*
ENV GO111MODULE=auto GOPATH=/go PATH=/go/bin:/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /go
