# Offline stand-in for alpine:latest: busybox and the musl C library at the
# paths alpine has them (/lib/ld-musl-x86_64.so.1 on amd64, /lib/ld-musl-aarch64.so.1
# on arm64), on scratch. As on alpine, a program linked against glibc cannot start
# here ("exec ./main: no such file or directory": its loader, /lib64/ld-linux-x86-64.so.2
# or /lib/ld-linux-aarch64.so.1, is missing), while a static or musl-linked one runs.
# No apk, no ssl, no zlib: hence ~2.7 MB, not alpine's 5.6 MB.
ARG BASE=labutils-debian:bookworm
FROM ${BASE} AS fetch
RUN apt-get update \
 && apt-get install -y --no-install-recommends busybox-static musl \
 && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /rootfs/bin /rootfs/lib /rootfs/etc /rootfs/root /rootfs/tmp /rootfs/usr/bin /rootfs/usr/lib \
 && cp /bin/busybox /rootfs/bin/busybox \
 && for applet in $(/bin/busybox --list); do \
      [ "$applet" = busybox ] || ln -s busybox "/rootfs/bin/$applet"; \
    done \
 && loader=$(basename /lib/ld-musl-*.so.1) && arch=${loader#ld-musl-} && arch=${arch%.so.1} \
 && cp "$(readlink -f "/lib/$loader")" "/rootfs/lib/$loader" \
 && ln -s "$loader" "/rootfs/lib/libc.musl-$arch.so.1" \
 && printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' > /rootfs/etc/passwd \
 && printf 'root:x:0:root\nnogroup:x:65533:\nnobody:x:65534:\n' > /rootfs/etc/group \
 && printf 'NAME="labutils alpine-like stand-in (Debian busybox + musl)"\nID=labutils-standin\n' > /rootfs/etc/os-release \
 && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=fetch /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["/bin/sh"]
