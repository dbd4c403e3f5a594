"""A class on this machine: JupyterHub, a lab and a rootless Docker Engine for every learner, a registry mirror.

    python -m labutils.classroom up        # make class: preflight, images, mirror, fence, hub; prints the URL
    python -m labutils.classroom down      # make class-down: every container, network, rule and process it started
    python -m labutils.classroom down --purge   # ... and the learners' volumes (their work and images)
    python -m labutils.classroom status

Real parts only: JupyterHub (``ClassCodeAuthenticator``, a FirstUseAuthenticator: each name the first claimant's),
dockerspawner's DockerSpawner, configurable-http-proxy (npm), jupyterhub-idle-culler, Debian's docker-registry,
the host's iptables, and in each learner's container Debian's rootless dockerd (rootlesskit, slirp4netns).
Nothing here schedules, proxies or authenticates by itself. ClassSettings: ``settings.ClassSettings``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from labutils.classroom import LABEL, PART, disks, fence, preflight
from labutils.classroom.settings import ClassError, ClassSettings, write_secret
from labutils.settings import ROOT

IMAGE_REPO = "labutils-class/lab"
REGISTRY_REPO = "labutils-class/registry"      # Debian's docker-registry on the Debian stand-in (class/registry.Dockerfile)
COURSE = ("labutils", "notebooks", "data", "class/lab.Dockerfile", "class/start-lab.sh", "jupyter", "pyproject.toml")


def say(text: str) -> None:
    print(f"[class] {text}", flush=True)


def docker(*args: str, check: bool = True, capture: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, capture_output=capture, text=True, **kw)


def reach(s: ClassSettings) -> str:
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


def lab_image(s: ClassSettings) -> str:
    """``labutils-class/lab:<course digest>``, made when missing: Debian's rootless engine, JupyterLab, this course."""
    tag = f"{IMAGE_REPO}:{course_digest()}"
    if docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    if docker("image", "inspect", "labutils-debian:bookworm", check=False).returncode != 0:
        raise ClassError("The Debian stand-in labutils-debian:bookworm is missing.",
                         "run `python -m labutils bases --offline` first (make class does).")
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
            raise ClassError("The learners' image did not build:\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-25:]),
                             "read the lines above; a Debian package that cannot be fetched: check the mirror.")
    say(f"{tag} made in {time.time() - started:.0f} s")
    return tag


# --- the registry mirror ------------------------------------------------------------------

def registry(s: ClassSettings, also: tuple[str, ...] = ()) -> str:
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


def _served(s: ClassSettings, ref: str) -> bool:
    repo, _, tag = ref.rpartition(":")
    return tag in _catalog_tags(s.registry_port, repo)


def _push(s: ClassSettings, have: str, name: str) -> None:
    pushed = f"127.0.0.1:{s.registry_port}/{name}"
    docker("tag", have, pushed)
    docker("push", "-q", pushed)
    docker("rmi", pushed)
    say(f"the class registry serves {name} ({have})")


LOGS = ("--log-opt", "max-size=10m", "--log-opt", "max-file=2")
"""Every container of a class keeps at most 20 MB of log (json-file), so none fills the host's disk."""


def registry_image() -> str:
    """``labutils-class/registry:<recipe digest>``: Debian's docker-registry on the Debian stand-in, made once."""
    recipe = ROOT / "class" / "registry.Dockerfile"
    tag = f"{REGISTRY_REPO}:{hashlib.sha256(recipe.read_bytes()).hexdigest()[:12]}"
    if docker("image", "inspect", tag, check=False).returncode != 0:
        proc = subprocess.run(["docker", "build", "-q", "-f", str(recipe), "-t", tag, "--label", f"{PART}=registry-image",
                               str(recipe.parent)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ClassError("The class registry's image did not build:\n" + (proc.stdout + proc.stderr)[-2000:],
                             "check that the Debian mirror answers (LABUTILS_DEBIAN_MIRROR) and run make class again.")
    return tag


def _registry_container(name: str, s: ClassSettings, readonly: bool, publish: list[str]) -> None:
    config = ("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n"
              f"  maintenance:\n    readonly:\n      enabled: {'true' if readonly else 'false'}\n"
              "http:\n  addr: 0.0.0.0:5000\n")
    ports = [a for where in publish for a in ("-p", f"{where}:5000")]
    docker("run", "-d", "--name", name, *s.labels("registry"), "--restart", "unless-stopped", *LOGS,
           "-v", f"{s.name}-vol-registry:/var/lib/registry", *ports, "--entrypoint", "sh", registry_image(), "-c",
           f"printf '{config}' > /tmp/registry.yml && exec docker-registry serve /tmp/registry.yml")
    _wait_http(f"http://127.0.0.1:{s.registry_port}/v2/", 30, "the class registry")


def _catalog_tags(port: int, repo: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/{repo}/tags/list", timeout=5) as r:
            return json.load(r).get("tags") or []
    except OSError:
        return []


def seed(s: ClassSettings) -> None:
    """Push the host engine's bases (the real ones, else the stand-ins) under the official names, once."""
    from labutils import bases
    for official in bases.LAB_BASES:
        if _served(s, f"library/{official}"):
            continue
        have = official if docker("image", "inspect", official, check=False).returncode == 0 \
            else bases.required_standin(official)
        _push(s, have, f"library/{official}")


# --- the hub -------------------------------------------------------------------------------

def proxy_command() -> str:
    exe = ROOT / ".class" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not exe.exists():
        sys.exit("configurable-http-proxy is not installed: `make class` installs it (npm, into .class/)")
    return str(exe)


def hub_pid(s: ClassSettings) -> int | None:
    try:
        pid = int((s.state / "hub.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def up(s: ClassSettings) -> None:
    """``make class``: check the machine first, then the images, the registry, the fence and the hub.

    Raises:
        ClassError: a setting or the machine stops the class before anything starts, saying what to do.
    """
    s = s.checked()
    state = s.state_folder()
    preflight.check(s, running=hub_pid(s) is not None)
    if s.swarm:
        engines_ = swarm_engines(s)                   # the swarm answers, with the hub's certificate, first
        say(f"past one machine: a swarm of {len(engines_)} nodes, managed at {s.swarm}")
    image = lab_image(s)
    where = registry(s, also=(image,) if s.swarm else ())
    if s.swarm:
        image = f"{where}/{image}"                    # every node pulls the learners' image from the class registry
    if s.fence:
        fence.install(s, hub=reach(s), registry=where)
        say(f"the fence is up: labs reach the hub's API and the class registry, nothing else ({fence.describe(s)})")
    else:
        say("CLASS_FENCE=0: no firewall rules; every lab reaches this machine's services and the network")
    if hub_pid(s) is None:
        for name, length in (("class-code", 9), ("admin-password", 32), ("instructor-token", 32),
                             ("proxy-token", 32)):
            s.secret(name, length)                    # made here, 0600, before the hub reads them from the folder
        env = dict(os.environ, CLASS_LAB_IMAGE=image, CLASS_REGISTRY=where, CLASS_GATEWAY=reach(s),
                   CLASS_PROXY=proxy_command(), CLASS_STATE=str(state))
        env.pop("CLASS_CODE", None)                   # secrets reach the hub through the state folder only
        if s.code:
            _write_code(s)
        log = open(state / "hub.log", "ab")
        os.chmod(state / "hub.log", 0o600)
        proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "class" / "jupyterhub_config.py")],
                                cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (state / "hub.pid").write_text(str(proc.pid))
    _wait_http(f"http://{'127.0.0.1' if s.host in ('0.0.0.0', '') else s.host}:{s.port}/hub/health", 90, "the hub",
               log=state / "hub.log")
    say(f"the class is open at {s.url}/hub/login")
    say(f"class code (a learner gives it once, the first time they claim a name, with a password of their own): "
        f"{s.class_code}")
    say(f"instructors ({', '.join(s.instructors)}) sign in with the admin password in {state / 'admin-password'}")
    say(f"the instructor's API token (class view: python -m labutils class --hub {s.url}): "
        f"{state / 'instructor-token'}")


def _write_code(s: ClassSettings) -> None:
    """CLASS_CODE, when the instructor chose one, kept in the state folder as the hub reads it (0600)."""
    path = s.state_folder() / "class-code"
    path.unlink(missing_ok=True)
    write_secret(path, s.code)


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
    raise ClassError(f"{what} did not answer at {url} within {seconds} s\n{tail}", "read the log above.")


def _gone(alive, seconds: float) -> bool:
    """Wait until ``alive()`` gives None (the process has exited); False when it still runs after ``seconds``."""
    deadline = time.monotonic() + seconds
    while alive() is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _proxy_pid(s: ClassSettings) -> int | None:
    """The configurable-http-proxy the hub started (its pid file in the state folder), while it runs."""
    try:
        pid = int((s.state / "jupyterhub-proxy.pid").read_text())
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return pid if b"configurable-http-proxy" in fh.read() else None
    except (OSError, ValueError):
        return None


def down(s: ClassSettings, purge: bool) -> None:
    pid = hub_pid(s)
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)               # the hub and its culler (one process group)
        if not _gone(lambda: hub_pid(s), 60):         # it stops its services first (the culler takes ~30 s)
            os.killpg(pid, signal.SIGKILL)
        say("the hub and its culler stopped")
    (s.state / "hub.pid").unlink(missing_ok=True)
    proxy = _proxy_pid(s)                             # a session of its own: a hub killed before it stopped it leaves it
    if proxy is not None:
        os.kill(proxy, signal.SIGTERM)
        if not _gone(lambda: _proxy_pid(s), 10):
            os.kill(proxy, signal.SIGKILL)
        say("the hub's proxy stopped")
    (s.state / "jupyterhub-proxy.pid").unlink(missing_ok=True)
    if fence.remove(s):
        say("the fence's firewall rules are removed")
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
    if s.state.is_dir():
        released = disks.release(s.state)
        if released:
            say(f"unmounted {len(released)} learner disk(s) (kept in {s.state / 'disks'} unless purged)")
    if purge or s.purge:
        for engine in _engines(s):
            vols = [v for v in engine("volume", "ls", "-q").stdout.split() if v.startswith(f"{s.name}-vol-")]
            if vols:
                engine("volume", "rm", "-f", *vols)
                say(f"removed {len(vols)} volume(s): the learners' work and images, and the mirror")
        shutil.rmtree(s.state, ignore_errors=True)
    else:
        say("the learners' volumes (work/ and their engines' images) are kept; CLASS_PURGE=1 removes them")


def node_docker(s: ClassSettings, url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The docker CLI against one swarm node's engine, with the hub's client certificate (mutual TLS)."""
    tls = Path(s.swarm_tls)
    missing = [f for f in ("ca.pem", "cert.pem", "key.pem") if not (tls / f).is_file()]
    if missing:
        sys.exit(f"CLASS_SWARM_TLS={s.swarm_tls!r} lacks {', '.join(missing)}: it must hold the CA and the hub's "
                 "client certificate and key for the nodes' engines (python -m tools.swarm makes them for a test swarm).")
    proc = docker("--tlsverify", "--tlscacert", str(tls / "ca.pem"), "--tlscert", str(tls / "cert.pem"),
                  "--tlskey", str(tls / "key.pem"), "-H", url, *args, check=False)
    if check and proc.returncode != 0:
        sys.exit(f"the swarm node at {url} refused `docker {' '.join(args)}`: {proc.stderr.strip()[-400:]}")
    return proc


def swarm_engines(s: ClassSettings) -> list[str]:
    """Every node's engine, ``tcp://<swarm address>:<CLASS_NODE_PORT>``, as the swarm's manager lists them."""
    ids = node_docker(s, s.swarm, "node", "ls", "-q").stdout.split()
    return [f"tcp://{node_docker(s, s.swarm, 'node', 'inspect', '-f', '{{.Status.Addr}}', i).stdout.strip()}"
            f":{s.node_port}" for i in ids]


def _engines(s: ClassSettings) -> list:
    """This machine's engine, then (on a swarm) every node's: callables with the docker CLI's arguments."""
    found = [docker]
    for url in (swarm_engines(s) if s.swarm else []):
        found.append(lambda *a, url=url, **kw: node_docker(s, url, *a, **kw))
    return found


def status(s: ClassSettings) -> None:
    print(json.dumps({"hub": hub_pid(s) is not None, "url": s.url,
                      "labs": [n for engine in _engines(s) for n in engine(
                          "ps", "--filter", f"label={LABEL}={s.name}", "--filter", f"label={PART}=lab",
                          "--format", "{{.Names}}").stdout.split()],
                      "registry": docker("ps", "-q", "--filter", f"name={s.registry_name}").stdout.strip() != ""},
                     indent=1))


def passwd(s: ClassSettings, name: str) -> None:
    """The instructor resets ``name``'s password: a new one is printed, to hand to the learner, who changes it
    (``/hub/auth/change-password``); their work and images stay."""
    import dbm

    from labutils.classroom.auth import reset_password
    try:
        new = reset_password(s.state_folder() / "passwords.dbm", name)
    except (KeyError, *dbm.error) as exc:          # dbm.error is a tuple (one per dbm module)
        raise ClassError(f"No password was reset: {exc}.",
                         "check the name (the admin page lists the learners) and CLASS_STATE (the class's).") from None
    say(f"{name}'s new password (give it to them; they change it at {s.url}/hub/auth/change-password): {new}")


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m labutils.classroom", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "image", "preflight", "passwd"])
    parser.add_argument("name", nargs="?", help="passwd: the learner whose password is reset")
    parser.add_argument("--purge", action="store_true", help="down: remove the learners' volumes too")
    args = parser.parse_args(argv)
    s = ClassSettings.read()
    if args.command == "up":
        try:
            up(s)
        except BaseException:
            if hub_pid(s) is None and fence.remove(s):    # nothing left fencing a class that did not start
                say("the class did not start: its firewall rules are removed")
            raise
    elif args.command == "down":
        down(s, args.purge)
    elif args.command == "image":
        print(lab_image(s))
    elif args.command == "preflight":
        for line in preflight.check(s.checked(), running=hub_pid(s) is not None):
            print(line)
    elif args.command == "passwd":
        if not args.name:
            parser.error("passwd needs the learner's name")
        passwd(s, args.name)
    else:
        status(s)
    return 0
