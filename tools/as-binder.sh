#!/usr/bin/env bash
# The notebooks as repo2docker (Binder) runs them: a fresh Python environment made from the repository's own
# files (environment.yml's `-e .[lab]`, then postBuild; nbval and pytest added to check it), no docker CLI on PATH, no engine, and every command
# through ./start. nbval must pass against the same stored outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/labutils-binder.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

started=$(date +%s)
python3 -m venv "$tmp/env"
if command -v uv >/dev/null 2>&1; then uv=uv
elif "$tmp/env/bin/python" -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; then uv="$tmp/env/bin/uv"
else uv=""; fi
pip_line=$(python3 -c "import yaml,sys; d=yaml.safe_load(open('environment.yml'))['dependencies']; \
print(' '.join(next(x['pip'] for x in d if isinstance(x, dict))))" 2>/dev/null || echo "-e .[lab]")
# what Binder installs (environment.yml), then the checker this script runs (Binder itself has no nbval)
checker="nbval>=0.11 pytest>=8"
if [ -n "$uv" ]; then $uv pip install --quiet --python "$tmp/env/bin/python" $pip_line $checker
else "$tmp/env/bin/python" -m pip install --quiet $pip_line $checker; fi
NB_PYTHON_PREFIX="$tmp/env" ./postBuild

# every program of this machine, except Docker's
mkdir "$tmp/bin"
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  for f in "$dir"/*; do
    name=${f##*/}
    case $name in docker*|dockerd*|containerd*|runc|ctr) continue ;; esac
    [ -e "$tmp/bin/$name" ] || ln -s "$f" "$tmp/bin/$name"
  done
done
echo "fresh environment in $(( $(date +%s) - started )) s"

mkdir -p "$tmp/home" "$tmp/work"
env -i HOME="$tmp/home" PATH="$tmp/env/bin:$tmp/bin" LANG=C.UTF-8 TERM=dumb \
  DOCKER_HOST=unix:///nonexistent/binder-has-no-engine.sock LABUTILS_WORK="$tmp/work/work" \
  ./start sh -c '
    if command -v docker >/dev/null 2>&1; then echo "a docker CLI is on PATH: $(command -v docker)"; exit 1; fi
    echo "no docker CLI on PATH, no engine; LABUTILS_MODE=$LABUTILS_MODE"
    python -m pytest notebooks --nbval --nbval-sanitize-with notebooks/sanitize.cfg \
      --nbval-cell-timeout='"${NBVAL_TIMEOUT:-300}"' -p no:cacheprovider -q "$@"' as-binder "$@"
