#!/usr/bin/env python3
"""The engine matrix: Docker 28.5 (Debian sid) in containers on the host's engine.

    .venv/bin/python -m tools.engines up overlay2            # 28.5, graph driver
    .venv/bin/python -m tools.engines seed overlay2          # ... with the host's offline kit loaded
    .venv/bin/python -m tools.engines up containerd          # 28.5, containerd image store
    .venv/bin/python -m tools.engines seed containerd        # ... its registry mirror serving the kit
    .venv/bin/python -m tools.engines all                    # up, seed and test, every engine
    .venv/bin/python -m tools.engines env containerd         # the variables that point labutils at it
    .venv/bin/python -m tools.engines test containerd        # engine tests + every notebook, live, on it
    .venv/bin/python -m tools.engines down containerd [--purge]

Each engine runs ``dockerd`` from Debian sid's docker.io in a container of the
host engine (``../shared/engines.md`` has why each flag is there). Its published
ports live in that container's network namespace, so labutils is pointed at them
with LABUTILS_HOST_OVERRIDE (the container's address), as a remote engine would be.

Base images: ``overlay2`` gets the host's offline kit loaded (stand-ins under
their own names: the offline path). ``containerd`` gets Debian's docker-registry
inside the same container as its registry mirror, holding the kit under the
official names (golang:1.15.6, alpine:latest, ...) and nothing local, so that a
plain ``docker pull golang:1.15.6`` works there as on a learner's laptop. What it
serves are labutils' stand-ins, and they keep their stand-in label.

Only resources named ``labutils-rig*`` are made or removed; the host engine's
other images and containers are left alone.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST_DOCKER = os.environ.get("RIG_HOST_DOCKER", "/usr/bin/docker")
HOST = os.environ.get("RIG_HOST", os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
MIRROR = os.environ.get("LABUTILS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
IMAGE = "labutils-rig/docker:sid"
STATE = Path(os.environ.get("RIG_STATE", "/var/tmp/labutils-rig"))
PACKAGES = "docker.io,docker-buildx,docker-cli,docker-registry,ca-certificates,iptables,procps"
STORES = {"overlay2": {"store": "overlay2", "mirror": False},
          "containerd": {"store": "containerd", "mirror": True}}


def kit_names() -> dict[str, str]:
    """Official name -> the stand-in the mirror serves under it: every base image the lab's files name, read
    from data/exercises with labutils' own Dockerfile reader (run with the venv's python: `make test-engines`)."""
    from labutils import bases
    from labutils.docker import dockerfile
    named = set(bases.LAB_BASES)
    for path in (ROOT / "data" / "exercises").rglob("Dockerfile*"):
        named |= {stage.base for stage in dockerfile.read(path).stages}
    return {ref: sub for ref in sorted(named) if (sub := bases.standin_name(ref))}


def other_platform_standins() -> list[str]:
    """Another platform's stand-ins (make bases-other), kept loaded on both engines: the mirror serves each
    official name for one platform, so an arm64 build there finds its base as a stand-in, as offline."""
    from labutils.ops import standins
    return standins.other_platform_standins()


REGISTRY = "127.0.0.1:5000"
# How nbval compares each engine's notebooks with the stored outputs (recorded on the host's engine):
# overlay2 holds the same figures, so every output is compared; on the containerd store the sizes are
# the store's own and the bases are pulled, so cells must run and the checkpoints (the lessons) must pass.
NBVAL = {"overlay2": ["--nbval", "--nbval-sanitize-with", "notebooks/sanitize.cfg"],
         "containerd": ["--nbval-lax"]}


def say(text: str) -> None:
    print(f"[rig] {text}", flush=True)


def host(*args: str, check: bool = True, capture: bool = False, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, DOCKER_HOST=HOST)
    return subprocess.run([HOST_DOCKER, *args], check=check, text=True, env=env,
                          capture_output=capture, **kw)


def inner(name: str, *args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    """The sid docker CLI, inside the rig's container, against its engine."""
    return host("exec", container(name), "docker", "-H", "unix:///run/dind/docker.sock", *args,
                check=check, capture=capture)


def container(name: str) -> str:
    return f"labutils-rig-{name}"


def sock_dir(name: str) -> Path:
    return STATE / name


def cli_dir() -> Path:
    return STATE / "cli"


# --- the image: Debian sid with docker.io 28.5, buildx and docker-registry ---------

def image() -> None:
    if host("image", "inspect", IMAGE, check=False, capture=True).returncode == 0:
        return
    with tempfile.TemporaryDirectory(prefix="labutils-rig-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        say(f"debootstrap sid with {PACKAGES} (about a minute)")
        started = time.time()
        proc = subprocess.run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "sid", str(rootfs), MIRROR],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit("debootstrap sid failed:\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-20:]))
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        host("import", "--change", "LABEL io.labutils.rig=docker-sid", "-", IMAGE, stdin=tar.stdout,
             capture=True)
        tar.wait()
        say(f"imported {IMAGE} in {time.time() - started:.0f} s")


def client() -> tuple[Path, Path]:
    """The sid docker CLI (28.5) and its buildx plugin, copied out to run on this host."""
    bin_dir, plugins = cli_dir() / "bin", cli_dir() / "config" / "cli-plugins"
    exe, buildx = bin_dir / "docker", plugins / "docker-buildx"
    if exe.exists() and buildx.exists():
        return exe, buildx
    bin_dir.mkdir(parents=True, exist_ok=True)
    plugins.mkdir(parents=True, exist_ok=True)
    cid = host("create", IMAGE, "true", capture=True).stdout.strip()
    try:
        host("cp", f"{cid}:/usr/bin/docker", str(exe))
        host("cp", f"{cid}:/usr/libexec/docker/cli-plugins/docker-buildx", str(buildx))
    finally:
        host("rm", "-f", cid, capture=True)
    return exe, buildx


# --- one engine ---------------------------------------------------------------------

def daemon_json(store: str, mirror: bool) -> str:
    conf: dict = {}
    if store == "containerd":
        conf["features"] = {"containerd-snapshotter": True}
    else:
        conf["storage-driver"] = "overlay2"
        conf["features"] = {"containerd-snapshotter": False}
    if mirror:
        conf["registry-mirrors"] = [f"http://{REGISTRY}"]
    return json.dumps(conf)


REGISTRY_CONFIG = f"""version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/docker/registry
  delete:
    enabled: true
http:
  addr: {REGISTRY}
"""


def up(name: str) -> None:
    spec = STORES[name]
    image()
    client()
    running = host("inspect", "-f", "{{.State.Running}}", container(name), check=False, capture=True)
    if running.returncode == 0 and running.stdout.strip() == "true":
        say(f"{container(name)} is already there")
        wait(name)
        return
    if running.returncode == 0:                   # left stopped or half-removed: start it afresh
        down(name, purge=False)
    sock_dir(name).mkdir(parents=True, exist_ok=True)
    for leftover in sock_dir(name).glob("*.sock"):
        leftover.unlink()
    script = (f"mkdir -p /etc/docker && echo '{daemon_json(spec['store'], spec['mirror'])}' > /etc/docker/daemon.json"
              " && printf '%s' \"$REGISTRY_CONFIG\" > /etc/docker/registry.yml"
              + (" && (docker-registry serve /etc/docker/registry.yml > /var/log/registry.log 2>&1 &)"
                 if spec["mirror"] else "")
              + f" && exec dockerd -H unix:///run/dind/docker.sock -H tcp://0.0.0.0:2375 --tls=false"
                f" --cgroup-parent=/{container(name)}")
    # the engine's TCP listener is reached only on a bridge of its own: the host and this container, no other
    if host("network", "inspect", network(name), check=False, capture=True).returncode != 0:
        host("network", "create", "--label", "io.labutils.rig=network", network(name), capture=True)
    host("run", "-d", "--name", container(name), "--label", "io.labutils.rig=engine", "--network", network(name),
         *DIND,
         "-v", f"{container(name)}-docker:/var/lib/docker", "-v", f"{container(name)}-containerd:/var/lib/containerd",
         "-v", f"{sock_dir(name)}:/run/dind", "-e", f"REGISTRY_CONFIG={REGISTRY_CONFIG}",
         IMAGE, "sh", "-c", script, capture=True)
    wait(name)
    say(f"{container(name)}: Docker {version(name)} ({spec['store']}) at {address(name)}")


DIND = ["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--security-opt", "systempaths=unconfined", "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"]
"""How a Docker engine runs in a container of this host (../shared/engines.md has why each flag is there)."""


def network(name: str) -> str:
    """The rig engine's private bridge: containers on the default bridge (a learner's) cannot reach its port 2375."""
    return f"{container(name)}-net"


def wait(name: str, seconds: int = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if inner(name, "version", "--format", "{{.Server.Version}}", check=False, capture=True).returncode == 0:
            return
        time.sleep(1)
    logs = host("logs", "--tail", "30", container(name), check=False, capture=True)
    sys.exit(f"the engine in {container(name)} did not answer in {seconds} s:\n{logs.stdout}{logs.stderr}")


def version(name: str) -> str:
    return inner(name, "version", "--format", "{{.Server.Version}}", capture=True).stdout.strip()


def address(name: str) -> str:
    return host("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container(name),
                capture=True).stdout.strip()


# Where the client runs: in the host's network namespace, reaching published ports through
# LABUTILS_HOST_OVERRIDE (as for a remote engine), or inside the engine's own namespace (nsenter),
# where they are on 127.0.0.1 as on a laptop and the stored outputs hold as they are.
INSIDE = {"overlay2": True, "containerd": False}


def environment(name: str) -> dict:
    """What points labutils, pytest and the docker CLI at this engine."""
    exe, _ = client()
    return {"DOCKER_HOST": f"unix://{sock_dir(name)}/docker.sock",
            **({} if INSIDE[name] else {"LABUTILS_HOST_OVERRIDE": address(name)}),
            "LABUTILS_RIG_TCP": f"tcp://{address(name)}:2375",
            "DOCKER_CONFIG": str(cli_dir() / "config"),
            "PATH": f"{exe.parent}:{os.environ.get('PATH', '')}"}


def seed(name: str, kit: Path) -> None:
    """Give the engine the lab's base images: the kit loaded, or served by its registry mirror."""
    spec = STORES[name]
    have = inner(name, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", capture=True).stdout.split()
    names = kit_names()
    others = all(standin in have for standin in other_platform_standins())
    if spec["mirror"]:
        if others and all(served(name, official) for official in names):
            say("the registry mirror already serves the lab's bases")
            return
    elif others and all(standin in have for standin in names.values()):
        say("the kit is already loaded")
        return
    if not kit.is_file():
        sys.exit(f"there is no kit at {kit}: run `python -m labutils bases --offline` and "
                 f"`python -m labutils bases --save {kit}` against the host engine first.")
    say(f"loading {kit} ({kit.stat().st_size / 1e6:,.0f} MB)")
    started = time.time()
    host("cp", str(kit), f"{container(name)}:/tmp/kit.tar")
    inner(name, "load", "-q", "-i", "/tmp/kit.tar")
    host("exec", container(name), "rm", "-f", "/tmp/kit.tar")
    say(f"loaded in {time.time() - started:.0f} s")
    if not spec["mirror"]:
        return
    for official, standin in names.items():
        pushed = f"{REGISTRY}/library/{official}"
        inner(name, "tag", standin, pushed)
        inner(name, "push", "-q", pushed, capture=True)
        inner(name, "rmi", pushed, capture=True)
        say(f"the mirror serves {official} (labutils' {standin})")
    inner(name, "rmi", *sorted(set(names.values())), capture=True)     # nothing local: every base is pulled
    inner(name, "builder", "prune", "-af", capture=True)


def served(name: str, official: str) -> bool:
    """Whether the rig's registry mirror holds ``official`` (``alpine:3.12``)."""
    repo, tag = official.split(":")
    pid = host("inspect", "-f", "{{.State.Pid}}", container(name), capture=True).stdout.strip()
    ask = (f"import json, urllib.request\ntry:\n print(json.load(urllib.request.urlopen("
           f"'http://{REGISTRY}/v2/library/{repo}/tags/list', timeout=5)).get('tags'))\nexcept Exception:\n pass")
    # the registry listens on the engine's loopback: ask from inside its network namespace
    tags = subprocess.run(["nsenter", "-t", pid, "-n", sys.executable, "-c", ask], capture_output=True, text=True).stdout
    return f"'{tag}'" in tags


def down(name: str, purge: bool) -> None:
    for _ in range(5):                            # a dind container can be busy a moment while it unmounts
        host("rm", "-f", container(name), check=False, capture=True)
        if host("inspect", container(name), check=False, capture=True).returncode != 0:
            break
        time.sleep(2)
    else:
        sys.exit(f"{container(name)} could not be removed: see `docker inspect {container(name)}`.")
    host("network", "rm", network(name), check=False, capture=True)
    if purge:
        host("volume", "rm", f"{container(name)}-docker", f"{container(name)}-containerd", check=False, capture=True)
        shutil.rmtree(sock_dir(name), ignore_errors=True)
    say(f"{container(name)} removed" + (" with its volumes" if purge else ""))


def test(name: str, pytest_args: list[str]) -> int:
    """What differs by engine (tests/engine) and every notebook, live, against this engine."""
    env = dict(os.environ, **environment(name), LABUTILS_MODE="live", LABUTILS_REQUIRE_ENGINE="1",
               LABUTILS_RIG=name, LABUTILS_WORK=str(STATE / name / "work"))   # a work folder per engine: they run at once
    if INSIDE[name]:
        env.pop("LABUTILS_HOST_OVERRIDE", None)
    env.pop("LABUTILS_NAMESPACE", None)
    python = str(ROOT / ".venv" / "bin" / "python")
    # first what the tests need on this engine, as `make test-live` makes it on the host (the mirror's pull,
    # or the loaded kit): no test may depend on another (the browser test's `make lab` used to pull them)
    runs = [[python, "-m", "labutils", "bases", "--offline", "--quiet"],
            [python, "-m", "pytest", "tests/engine", "-m", "not one_engine", "-p", "no:cacheprovider", *pytest_args],
            [python, "-m", "pytest", "notebooks", *NBVAL[name], "--nbval-cell-timeout=600", "-p", "no:cacheprovider",
             *pytest_args]]
    if INSIDE[name]:
        pid = host("inspect", "-f", "{{.State.Pid}}", container(name), capture=True).stdout.strip()
        runs = [["nsenter", "-t", pid, "-n", *cmd] for cmd in runs]
    code = 0
    for cmd in runs:
        say(f"{name}: Docker {version(name)}; " + " ".join(cmd))
        with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              bufsize=1) as proc:
            for line in proc.stdout or ():      # each line says which engine it is from (the engines run at once)
                print(f"[{name}] {line}", end="", flush=True)
        code = proc.returncode or code
    return code


SIZES = """
import labutils as lu
from labutils.backends.live import stores
from labutils.course.approaches import APPROACHES
from labutils.ops import images
print("store", stores.image_store())
for tag in dict.fromkeys(a.tag for a in APPROACHES):
    if lu.image_exists(tag):
        s = images.inspect(tag)
        print(tag, s["size"], s.get("content"), s.get("total"))
"""


def sizes(name: str | None) -> None:
    """The lab's images on an engine (after its notebooks ran): unpacked, content and total bytes."""
    env = dict(os.environ, **(environment(name) if name else {}), LABUTILS_MODE="live")
    cmd = [str(ROOT / ".venv" / "bin" / "python"), "-c", SIZES]
    if name and INSIDE[name]:
        pid = host("inspect", "-f", "{{.State.Pid}}", container(name), capture=True).stdout.strip()
        cmd = ["nsenter", "-t", pid, "-n", *cmd]
    print(f"== {name or 'host'}", flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "seed", "env", "test", "down", "all", "sizes"])
    parser.add_argument("engines", nargs="*", default=list(STORES))
    parser.add_argument("--kit", type=Path, default=STATE / "kit.tar")
    parser.add_argument("--purge", action="store_true", help="down: remove the engine's volumes too")
    parser.add_argument("--pytest", default="", help="extra pytest arguments")
    parser.add_argument("--one-at-a-time", action="store_true", help="all: one engine after the other")
    args = parser.parse_args(argv)
    unknown = [e for e in args.engines if e not in STORES]
    if unknown:
        parser.error(f"unknown engine {unknown}; choose from {list(STORES)}")
    failed = []
    try:
        failed = run(args)
    finally:
        if args.command == "all":                 # every exit path: the engines it started are removed
            for name in args.engines:
                down(name, purge=False)
    if failed:
        say(f"failed on: {', '.join(failed)}")
    return 1 if failed else 0


def run(args) -> list[str]:
    """The command on each engine; ``all`` on several engines runs them at once, one thread each: a rig spends
    much of its time waiting on its own engine, and two of them together take little more than the longer one."""
    if args.command == "all" and len(args.engines) > 1 and not args.one_at_a_time:
        from concurrent.futures import ThreadPoolExecutor
        image()                                   # made once, before the threads that use it
        client()
        with ThreadPoolExecutor(len(args.engines)) as pool:
            results = pool.map(lambda e: run(argparse.Namespace(**{**vars(args), "engines": [e]})), args.engines)
            return [name for failed in results for name in failed]
    failed = []
    for name in args.engines:
        if args.command in ("up", "all"):
            up(name)
        if args.command in ("seed", "all"):
            seed(name, args.kit)
        if args.command == "env":
            for key, value in environment(name).items():
                print(f"export {key}='{value}'")
        if args.command in ("test", "all"):
            if test(name, args.pytest.split()) != 0:
                failed.append(name)
        if args.command == "sizes":
            sizes(name)
        if args.command == "down":
            down(name, args.purge)
    return failed


if __name__ == "__main__":
    sys.exit(main())
