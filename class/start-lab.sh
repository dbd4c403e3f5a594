#!/bin/sh
# Start the learner's own rootless Docker Engine, wait until it answers, then run the lab (the command given).
# CLASS_REGISTRY (host:port) is the class's registry mirror of the lab's base images.
set -eu
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
  if [ "$i" -gt 90 ]; then
    echo "the learner's Docker Engine did not start; its log:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
  sleep 1
done
echo "the learner's Docker Engine answers: $(docker version --format '{{.Server.Version}}') (rootless)"
exec "$@"
