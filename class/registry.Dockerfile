# The class registry: Debian's docker-registry on the Debian stand-in, run as its own unprivileged user.
# make class (labutils.classroom.deploy.registry_image) builds it; it serves the lab's bases to every learner's
# engine, read-only.
ARG BASE=labutils-debian:bookworm
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o docker-registry -g docker-registry /var/lib/registry
USER docker-registry
