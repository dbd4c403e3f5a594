# Offline stand-in for alpine: Debian's statically linked busybox on scratch,
# with the few files a small distribution image has (/etc/passwd, /tmp).
ARG BASE=labutils-debian:bookworm
FROM ${BASE} AS fetch
RUN apt-get update \
 && apt-get install -y --no-install-recommends busybox-static \
 && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /rootfs/bin /rootfs/etc /rootfs/root /rootfs/tmp \
 && cp /bin/busybox /rootfs/bin/busybox \
 && for applet in $(/bin/busybox --list); do \
      [ "$applet" = busybox ] || ln -s busybox "/rootfs/bin/$applet"; \
    done \
 && printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > /rootfs/etc/passwd \
 && printf 'root:x:0:\nnogroup:x:65534:\n' > /rootfs/etc/group \
 && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=fetch /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
