#!/usr/bin/env python3
"""A class on this machine: JupyterHub, a lab and a rootless Docker Engine for every learner, a registry mirror.

    python tools/classroom.py up        # make class: images, mirror, hub; prints the URL and the class code
    python tools/classroom.py down      # make class-down: every container, network and process it started
    python tools/classroom.py down --purge   # ... and the learners' volumes (their work and images)
    python tools/classroom.py status

Real parts only: JupyterHub (SharedPasswordAuthenticator: the class code), dockerspawner's DockerSpawner,
configurable-http-proxy (npm), jupyterhub-idle-culler, Debian's docker-registry, and in each learner's
container Debian's rootless dockerd (rootlesskit, slirp4netns). Nothing here schedules, proxies or
authenticates by itself.

Every setting is an environment variable read by ``Settings.read()`` (``class/jupyterhub_config.py`` reads
the same), optionally from one file, ``CLASS_CONFIG`` (default ``class/class.env``, ``KEY=value`` lines).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEL = "io.labutils.class"
"""Every container and network of a class carries it, its value the class's name (CLASS_NAME)."""
PART = "io.labutils.class.part"
"""What the container or network is to the class: lab, registry, network."""
IMAGE_REPO = "labutils-class/lab"
RIG_IMAGE = "labutils-rig/docker:sid"          # Debian sid with docker-registry (tools/engines.py makes it)
COURSE = ("labutils", "notebooks", "data", "class/lab.Dockerfile", "class/start-lab.sh", "jupyter", "pyproject.toml")


@dataclass(frozen=True)
class Settings:
    """The class, as an instructor sets it (environment, or ``CLASS_CONFIG``)."""

    name: str                   # prefixes every container, network and volume: two classes never meet
    state: Path                 # hub database, secrets, logs
    host: str                   # where the hub listens for browsers
    port: int
    public_host: str            # the name learners type (printed URL)
    tls_cert: str
    tls_key: str
    code: str                   # the class code learners sign in with ("" = made once, kept in state)
    instructors: tuple[str, ...]
    cpus: float                 # per learner (lab and engine together)
    memory: str
    pids: int
    disk: str                   # said, not enforced: overlay2 without project quotas cannot limit a volume
    idle_timeout: int           # seconds without activity before the culler stops a lab and its engine
    max_learners: int
    registry_port: int
    hub_port: int               # the hub's API, for the labs (on Docker's default bridge)
    proxy_api_port: int         # configurable-http-proxy's API (loopback)
    purge: bool
    swarm: str                  # past one machine: the swarm manager's engine (tcp://host:2376), "" = this machine
    swarm_tls: str              # a folder with the hub's client certificate for every node (ca.pem, cert.pem, key.pem)
    node_port: int              # where each node's engine listens, on its swarm address
    reach: str                  # this machine's address that every lab reaches (hub API, registry); "" = Docker's bridge

    @classmethod
    def read(cls) -> Settings:
        env = dict(os.environ)
        conf = Path(env.get("CLASS_CONFIG") or ROOT / "class" / "class.env")
        if conf.is_file():
            for line in conf.read_text().splitlines():
                key, sep, value = line.strip().partition("=")
                if sep and not key.startswith("#"):
                    env.setdefault(key.strip(), value.strip())
        return cls(name=env.get("CLASS_NAME", "labutils-class"),
                   state=Path(env.get("CLASS_STATE") or "/var/tmp/labutils-class"),
                   host=env.get("CLASS_HOST", "127.0.0.1"), port=_number(env, "CLASS_PORT", "8000", int),
                   public_host=env.get("CLASS_PUBLIC_HOST", "") or env.get("CLASS_HOST", "127.0.0.1"),
                   tls_cert=env.get("CLASS_TLS_CERT", ""), tls_key=env.get("CLASS_TLS_KEY", ""),
                   code=env.get("CLASS_CODE", ""),
                   instructors=tuple(n for n in env.get("CLASS_INSTRUCTORS", "instructor").split(",") if n),
                   cpus=_number(env, "CLASS_CPUS", "2", float), memory=env.get("CLASS_MEMORY", "4g"),
                   pids=_number(env, "CLASS_PIDS", "2048", int), disk=env.get("CLASS_DISK", "20g"),
                   idle_timeout=_number(env, "CLASS_IDLE_TIMEOUT", "3600", int),
                   max_learners=_number(env, "CLASS_MAX_LEARNERS", "30", int),
                   registry_port=_number(env, "CLASS_REGISTRY_PORT", "5000", int),
                   hub_port=_number(env, "CLASS_HUB_PORT", "8081", int),
                   proxy_api_port=_number(env, "CLASS_PROXY_API_PORT", "8001", int),
                   purge=env.get("CLASS_PURGE", "") == "1", swarm=env.get("CLASS_SWARM", ""),
                   swarm_tls=env.get("CLASS_SWARM_TLS", ""), node_port=_number(env, "CLASS_NODE_PORT", "2376", int),
                   reach=env.get("CLASS_HUB_ADDRESS", ""))

    @property
    def memory_bytes(self) -> int:
        """``4g`` -> 4 GiB, as ``docker run --memory`` reads it."""
        units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
        text = self.memory.strip().lower().rstrip("b")
        try:
            return int(float(text[:-1]) * units[text[-1]]) if text[-1:] in units else int(text)
        except ValueError:
            sys.exit(f"CLASS_MEMORY={self.memory!r} is not a size: write it as 4g, 512m or a number of bytes.")

    @property
    def registry_name(self) -> str:
        return f"{self.name}-registry"

    def volume(self, user: str, what: str) -> str:
        """A learner's volume: ``<class>-vol-<user>-work`` or ``-engine`` (kept by down, removed by --purge)."""
        return f"{self.name}-vol-{user}-{what}"

    def labels(self, part: str) -> list[str]:
        return ["--label", f"{LABEL}={self.name}", "--label", f"{PART}={part}"]

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.public_host}:{self.port}"

    def secret(self, name: str, length: int = 24) -> str:
        """A secret made once and kept in the state folder (mode 600): the class code, admin password, tokens."""
        path = self.state / name
        if not path.is_file():
            self.state.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(length) + "\n")
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def class_code(self) -> str:
        return self.code or self.secret("class-code", 9)


def _number(env: dict, key: str, default: str, kind):
    """A numeric setting; a value that is no number stops with what to write, not a traceback."""
    text = env.get(key, default)
    try:
        return kind(text)
    except ValueError:
        sys.exit(f"{key}={text!r} is not a number: write it as {kind(default)!r} is written, or unset it.")


def say(text: str) -> None:
    print(f"[class] {text}", flush=True)


def docker(*args: str, check: bool = True, capture: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, capture_output=capture, text=True, **kw)


def reach(s: Settings) -> str:
    """Where every lab reaches this machine (the hub's API, the class registry): ``CLASS_HUB_ADDRESS`` when set
    (a swarm of machines: this machine's address on their network), else Docker's default bridge."""
    return s.reach or gateway()


def gateway() -> str:
    """The host's address on Docker's default bridge: reachable from every learner's network, not from outside."""
    out = docker("network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}").stdout.strip()
    return out or "172.17.0.1"


# --- the learners' image ---------------------------------------------------------------

def course_digest() -> str:
    """A digest of what goes into the learners' image: when the course changes, the image is made again."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *COURSE], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    h = hashlib.sha256()
    for name in sorted(files):
        path = ROOT / name
        if path.is_file():
            h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


LAB_PYTHON = "3.11.2"        # Debian bookworm's python3, which the learners' image runs


def wheels(dest: Path) -> None:
    """labutils' wheel and every wheel it needs in the lab, chosen for the image's Python and glibc (not ours)."""
    import platform
    arch = platform.machine()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(ROOT)],
                   check=True)
    own = next(dest.glob("labutils-*.whl"))
    tags = [a for minor in range(17, 37) for a in ("--platform", f"manylinux_2_{minor}_{arch}")]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(dest), "--only-binary=:all:",
                    "--python-version", LAB_PYTHON, "--implementation", "cp", "--abi", "cp311",
                    "--platform", f"manylinux2014_{arch}", *tags, f"labutils[singleuser] @ {own.as_uri()}"],
                   check=True)


def lab_image(s: Settings) -> str:
    """``labutils-class/lab:<course digest>``, made when missing: Debian's rootless engine, JupyterLab, this course."""
    tag = f"{IMAGE_REPO}:{course_digest()}"
    if docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    if docker("image", "inspect", "labutils-debian:bookworm", check=False).returncode != 0:
        sys.exit("the Debian stand-in is missing: run `python -m labutils bases --offline` first (make class does)")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="labutils-class-image-") as tmp:
        ctx = Path(tmp)
        say("collecting the wheels of labutils and JupyterLab (the image installs them with no index)")
        wheels(ctx / "wheels")
        course = ctx / "course"
        for name in ("notebooks", "data", "jupyter"):
            shutil.copytree(ROOT / name, course / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        shutil.copy2(ROOT / "class" / "lab.Dockerfile", ctx / "lab.Dockerfile")
        shutil.copy2(ROOT / "class" / "start-lab.sh", ctx / "start-lab.sh")
        say(f"building {tag} (Debian packages from the mirror, then the wheels)")
        proc = subprocess.run(["docker", "build", "-q", "--force-rm", "-f", str(ctx / "lab.Dockerfile"), "-t", tag,
                               "--label", f"{PART}=lab-image", str(ctx)], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit("the learners' image did not build:\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-25:]))
    say(f"{tag} made in {time.time() - started:.0f} s")
    return tag


# --- the registry mirror ------------------------------------------------------------------

def registry(s: Settings, also: tuple[str, ...] = ()) -> str:
    """Debian's docker-registry serving the lab's bases under the lab's names; ``host:port`` as learners reach it.

    It is seeded through a writable registry on the host's loopback, then served read-only on the address of
    Docker's default bridge: every learner's engine (and, on a swarm, every node) can pull from it, none can
    push to it, and it is not published outside this machine. ``also`` names images of this engine it serves
    as well (the learners' image, for the swarm's nodes); a missing one makes it seed again.
    """
    where = f"{reach(s)}:{s.registry_port}"
    running = docker("inspect", "-f", "{{.State.Running}}", s.registry_name, check=False).stdout.strip()
    if running == "true" and all(_served(s, ref) for ref in also):
        return where
    docker("rm", "-f", s.registry_name, check=False)
    _registry_container(s.registry_name + "-seed", s, readonly=False, publish=[f"127.0.0.1:{s.registry_port}"])
    try:
        seed(s)
        for ref in also:
            _push(s, ref, ref)
    finally:
        docker("rm", "-f", s.registry_name + "-seed", check=False)
    _registry_container(s.registry_name, s, readonly=True, publish=[f"127.0.0.1:{s.registry_port}", where])
    return where


def _served(s: Settings, ref: str) -> bool:
    repo, _, tag = ref.rpartition(":")
    return tag in _catalog_tags(s.registry_port, repo)


def _push(s: Settings, have: str, name: str) -> None:
    pushed = f"127.0.0.1:{s.registry_port}/{name}"
    docker("tag", have, pushed)
    docker("push", "-q", pushed)
    docker("rmi", pushed)
    say(f"the class registry serves {name} ({have})")


def _registry_container(name: str, s: Settings, readonly: bool, publish: list[str]) -> None:
    config = ("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n"
              f"  maintenance:\n    readonly:\n      enabled: {'true' if readonly else 'false'}\n"
              "http:\n  addr: 0.0.0.0:5000\n")
    ports = [a for where in publish for a in ("-p", f"{where}:5000")]
    docker("run", "-d", "--name", name, *s.labels("registry"), "--restart", "unless-stopped",
           "-v", f"{s.name}-vol-registry:/var/lib/registry", *ports, "--entrypoint", "sh", RIG_IMAGE, "-c",
           f"printf '{config}' > /tmp/registry.yml && exec docker-registry serve /tmp/registry.yml")
    _wait_http(f"http://127.0.0.1:{s.registry_port}/v2/", 30, "the class registry")


def _catalog_tags(port: int, repo: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/{repo}/tags/list", timeout=5) as r:
            return json.load(r).get("tags") or []
    except OSError:
        return []


def seed(s: Settings) -> None:
    """Push the host engine's bases (the real ones, else the stand-ins) under the official names, once."""
    sys.path.insert(0, str(ROOT))
    from labutils import bases
    for official in bases.LAB_BASES:
        if _served(s, f"library/{official}"):
            continue
        have = official if docker("image", "inspect", official, check=False).returncode == 0 \
            else bases.standin_of(official)
        _push(s, have, f"library/{official}")


# --- the hub -------------------------------------------------------------------------------

def proxy_command() -> str:
    exe = ROOT / ".class" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not exe.exists():
        sys.exit("configurable-http-proxy is not installed: `make class` installs it (npm, into .class/)")
    return str(exe)


def hub_pid(s: Settings) -> int | None:
    try:
        pid = int((s.state / "hub.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def up(s: Settings) -> None:
    _ = s.memory_bytes                                # a bad CLASS_MEMORY stops here, before anything starts
    if s.code and len(s.code) < 8:
        sys.exit(f"CLASS_CODE is {len(s.code)} characters; JupyterHub's SharedPasswordAuthenticator wants 8 or "
                 "more. Choose a longer class code, or unset it and make class makes one.")
    s.state.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "tools"))
    import engines
    engines.image()                                   # the sid image that carries docker-registry
    if s.swarm:
        engines_ = swarm_engines(s)                   # the swarm answers, with the hub's certificate, first
        say(f"past one machine: a swarm of {len(engines_)} nodes, managed at {s.swarm}")
    image = lab_image(s)
    where = registry(s, also=(image,) if s.swarm else ())
    if s.swarm:
        image = f"{where}/{image}"                    # every node pulls the learners' image from the class registry
    if hub_pid(s) is None:
        env = dict(os.environ, CLASS_LAB_IMAGE=image, CLASS_REGISTRY=where, CLASS_GATEWAY=reach(s),
                   CLASS_PROXY=proxy_command(), CLASS_CODE=s.class_code,
                   CLASS_ADMIN_PASSWORD=s.secret("admin-password", 32),
                   CLASS_VIEW_TOKEN=s.secret("instructor-token", 32), CLASS_STATE=str(s.state))
        log = open(s.state / "hub.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "class" / "jupyterhub_config.py")],
                                cwd=s.state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (s.state / "hub.pid").write_text(str(proc.pid))
    _wait_http(f"http://{'127.0.0.1' if s.host in ('0.0.0.0', '') else s.host}:{s.port}/hub/health", 90, "the hub",
               log=s.state / "hub.log")
    say(f"the class is open at {s.url}/hub/login")
    say(f"class code (learners sign in with any name and it): {s.class_code}")
    say(f"instructors ({', '.join(s.instructors)}) sign in with the admin password in {s.state / 'admin-password'}")
    say(f"the instructor's API token (class view: python -m labutils class --hub {s.url}): "
        f"{s.state / 'instructor-token'}")


def _wait_http(url: str, seconds: int, what: str, log: Path | None = None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.5)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:]) if log and log.exists() else ""
    sys.exit(f"{what} did not answer at {url} within {seconds} s\n{tail}")


def down(s: Settings, purge: bool) -> None:
    pid = hub_pid(s)
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)               # the hub and its proxy and culler (one process group)
        for _ in range(30):
            if hub_pid(s) is None:
                break
            time.sleep(0.5)
        else:
            os.killpg(pid, signal.SIGKILL)
        say("the hub, its proxy and its culler stopped")
    (s.state / "hub.pid").unlink(missing_ok=True)
    if s.swarm:
        seats = node_docker(s, s.swarm, "service", "ls", "-q", "--filter", f"label={LABEL}={s.name}").stdout.split()
        if seats:
            node_docker(s, s.swarm, "service", "rm", *seats)
            say(f"removed {len(seats)} seat(s) from the swarm")
    for engine in _engines(s):
        for kind, ls, rm in (("container", ["ps", "-aq"], ["rm", "-f"]), ("network", ["network", "ls", "-q"], ["network", "rm"])):
            ids = engine(*ls, "--filter", f"label={LABEL}={s.name}").stdout.split()
            if ids:
                engine(*rm, *ids)
                say(f"removed {len(ids)} {kind}(s)")
    if purge or s.purge:
        for engine in _engines(s):
            vols = [v for v in engine("volume", "ls", "-q").stdout.split() if v.startswith(f"{s.name}-vol-")]
            if vols:
                engine("volume", "rm", "-f", *vols)
                say(f"removed {len(vols)} volume(s): the learners' work and images, and the mirror")
        shutil.rmtree(s.state, ignore_errors=True)
    else:
        say("the learners' volumes (work/ and their engines' images) are kept; CLASS_PURGE=1 removes them")


def node_docker(s: Settings, url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The docker CLI against one swarm node's engine, with the hub's client certificate (mutual TLS)."""
    tls = Path(s.swarm_tls)
    missing = [f for f in ("ca.pem", "cert.pem", "key.pem") if not (tls / f).is_file()]
    if missing:
        sys.exit(f"CLASS_SWARM_TLS={s.swarm_tls!r} lacks {', '.join(missing)}: it must hold the CA and the hub's "
                 "client certificate and key for the nodes' engines (tools/swarm.py makes them for a test swarm).")
    proc = docker("--tlsverify", "--tlscacert", str(tls / "ca.pem"), "--tlscert", str(tls / "cert.pem"),
                  "--tlskey", str(tls / "key.pem"), "-H", url, *args, check=False)
    if check and proc.returncode != 0:
        sys.exit(f"the swarm node at {url} refused `docker {' '.join(args)}`: {proc.stderr.strip()[-400:]}")
    return proc


def swarm_engines(s: Settings) -> list[str]:
    """Every node's engine, ``tcp://<swarm address>:<CLASS_NODE_PORT>``, as the swarm's manager lists them."""
    ids = node_docker(s, s.swarm, "node", "ls", "-q").stdout.split()
    return [f"tcp://{node_docker(s, s.swarm, 'node', 'inspect', '-f', '{{.Status.Addr}}', i).stdout.strip()}"
            f":{s.node_port}" for i in ids]


def _engines(s: Settings) -> list:
    """This machine's engine, then (on a swarm) every node's: callables with the docker CLI's arguments."""
    found = [docker]
    for url in (swarm_engines(s) if s.swarm else []):
        found.append(lambda *a, url=url, **kw: node_docker(s, url, *a, **kw))
    return found


def status(s: Settings) -> None:
    print(json.dumps({"hub": hub_pid(s) is not None, "url": s.url,
                      "labs": [n for engine in _engines(s) for n in engine(
                          "ps", "--filter", f"label={LABEL}={s.name}", "--filter", f"label={PART}=lab",
                          "--format", "{{.Names}}").stdout.split()],
                      "registry": docker("ps", "-q", "--filter", f"name={s.registry_name}").stdout.strip() != ""},
                     indent=1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "image"])
    parser.add_argument("--purge", action="store_true", help="down: remove the learners' volumes too")
    args = parser.parse_args(argv)
    s = Settings.read()
    if args.command == "up":
        up(s)
    elif args.command == "down":
        down(s, args.purge)
    elif args.command == "image":
        print(lab_image(s))
    else:
        status(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
