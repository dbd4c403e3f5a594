# Offline stand-in for golang:1.15.6: Debian bullseye's Go 1.15 (golang-1.15-go)
# on a debootstrapped bullseye, laid out as the official image is: Go on PATH,
# GOPATH=/go, WORKDIR /go, and the packages its parents (buildpack-deps:scm)
# and it add: curl, wget, git, ssh, procps, and gcc, g++, libc6-dev, make,
# pkg-config, so that cgo links against glibc as it does there. Left out:
# mercurial and subversion (and the Python they bring), which Go 1.15 does not
# need to fetch modules; with them the image is 884 MB, 10% over the book's.
# GO111MODULE is left unset, so Go 1.15 builds a folder without go.mod as the
# lab does. If bullseye is no longer served, labutils builds this from bookworm
# with GO_PACKAGE=golang-go GOROOT=/usr/lib/go (Go 1.19) and says so.
ARG BASE=labutils-debian:bullseye
FROM ${BASE}
ARG GO_PACKAGE=golang-1.15-go
ARG GOROOT=/usr/lib/go-1.15
RUN apt-get update \
 && apt-get install -y --no-install-recommends ${GO_PACKAGE} \
      ca-certificates curl netbase wget gnupg dirmngr git openssh-client procps \
      g++ gcc libc6-dev make pkg-config \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /go/src /go/bin && chmod -R 777 /go
ENV GOPATH=/go PATH=/go/bin:${GOROOT}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /go
