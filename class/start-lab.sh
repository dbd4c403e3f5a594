#!/bin/sh
# A learner's lab: start their own rootless Docker Engine, wait until it answers, then run the lab (the command
# given). CLASS_REGISTRY (host:port) is the class's registry mirror of the lab's base images.
#
# The container starts as root for one step only: Docker copies the host's /dev/net/tun into it with the host's
# mode, which may be 0600 (root only), and the learner's engine (slirp4netns) opens it as uid 1000. So root gives
# the learner this container's own copy of the node (the host's stays as it is), then becomes the learner for
# good (setpriv: uid and gid 1000, no capabilities kept or inherited) and runs this script again.
set -eu
if [ "$(id -u)" = 0 ]; then
  if [ -c /dev/net/tun ]; then
    if grep -qs ' /dev/net/tun ' /proc/self/mountinfo; then
      echo "note: /dev/net/tun is bound from the host here (not a copy): it is left as it is" >&2
    else
      chown 1000:1000 /dev/net/tun
    fi
  fi
  export HOME=/home/learner USER=learner LOGNAME=learner
  exec setpriv --reuid=1000 --regid=1000 --init-groups --inh-caps=-all -- "$0" "$@"
fi
mkdir -p "$XDG_RUNTIME_DIR" "$HOME/.config/docker" "$HOME/.local/share/docker"
chmod 700 "$XDG_RUNTIME_DIR"
# The engine's own networks stay off the host's Docker ranges (172.17.0.0/16 and up), where the class's
# registry and hub are reached.
mirror=""
if [ -n "${CLASS_REGISTRY:-}" ]; then
  mirror=$(printf ', "registry-mirrors": ["http://%s"], "insecure-registries": ["%s"]' "$CLASS_REGISTRY" "$CLASS_REGISTRY")
fi
printf '{"bip": "10.99.0.1/24", "default-address-pools": [{"base": "10.98.0.0/16", "size": 24}]%s}\n' \
  "$mirror" > "$HOME/.config/docker/daemon.json"
log="$HOME/.docker/dockerd.log"
/usr/share/docker.io/contrib/dockerd-rootless.sh >"$log" 2>&1 &
i=0
until docker version >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 90 ] || ! kill -0 $! 2>/dev/null; then
    grep -vE "level=(info|debug)" "$log" | tail -20 >&2
    echo "the learner's Docker Engine did not start (the last lines of its log are above)" >&2
    exit 1
  fi
  sleep 1
done
echo "the learner's Docker Engine answers: $(docker version --format '{{.Server.Version}}') (rootless)"
exec "$@"
