"""The class's settings: every ``CLASS_*`` variable, read when asked, and the state folder with its secrets.

``CLASS_VARIABLES`` lists each with its default and meaning (docs/reference.md is generated from it).
"""
from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from labutils.classroom import LABEL, PART
from labutils.settings import ROOT, Variable

CLASS_VARIABLES = (
    Variable("CLASS_NAME", "labutils-class",
             "prefixes every container, network, volume and firewall chain: two classes never meet"),
    Variable("CLASS_STATE", "/var/tmp/labutils-class",
             "hub database, secrets, logs (made 0700; refused if another's or open to others)"),
    Variable("CLASS_HOST, CLASS_PORT", "127.0.0.1, 8000",
             "where the hub listens for browsers (beyond loopback: TLS, or CLASS_INSECURE=1)"),
    Variable("CLASS_PUBLIC_HOST", "CLASS_HOST",
             "the name learners type"),
    Variable("CLASS_TLS_CERT, CLASS_TLS_KEY", "unset",
             "the hub's certificate and key"),
    Variable("CLASS_INSECURE", "unset",
             "1: serve beyond loopback without TLS all the same (class codes and passwords in clear)"),
    Variable("CLASS_CODE", "made once",
             "what a learner gives the first time they claim a name (8 characters or more)"),
    Variable("CLASS_INSTRUCTORS", "instructor",
             "the hub's admins (their password: admin-password in the state folder)"),
    Variable("CLASS_CPUS, CLASS_MEMORY, CLASS_PIDS", "2, 4g, 2048",
             "per learner (lab and engine together)"),
    Variable("CLASS_DISK", "20g",
             "per learner: work/ and their engine's data on an ext4 of this size (a sparse file in the state folder)"),
    Variable("CLASS_IDLE_TIMEOUT", "3600",
             "seconds idle before the culler stops a lab and its engine"),
    Variable("CLASS_MAX_LEARNERS", "30",
             "accounts a class code can make, and labs running at once"),
    Variable("CLASS_REGISTRY_PORT, CLASS_HUB_PORT, CLASS_PROXY_API_PORT", "5000, 8081, 8001",
             "the class registry, the hub's API (for labs), the proxy's API (loopback)"),
    Variable("CLASS_FENCE", "1",
             "0: no firewall rules around the labs (a host without iptables; said at start)"),
    Variable("CLASS_SWARM, CLASS_SWARM_TLS, CLASS_NODE_PORT", "unset, unset, 2376",
             "past one machine: the swarm manager, the hub's client certificate, each node's engine port"),
    Variable("CLASS_HUB_ADDRESS", "Docker's bridge",
             "this machine's address every lab reaches (hub API, registry)"),
    Variable("CLASS_CONFIG", "class/class.env",
             "a file of KEY=value lines read first (ignored by git)"),
    Variable("CLASS_PURGE", "unset", "1: class-down also removes the learners' volumes and disks"),
    Variable("CLASS_VIEW_TOKEN", "unset", "the instructor's API token for python -m labutils class --hub (else --token-file)"),
)


def size_bytes(size: str) -> int:
    """``20g`` -> bytes, as ``docker run --memory`` reads sizes (k, m, g, t; a trailing b is allowed).

    Raises:
        ValueError: not a size.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", size.lower())
    if not match:
        raise ValueError(f"{size!r} is not a size: write it as 20g, 512m or a number of bytes")
    return int(float(match.group(1)) * 1024 ** " kmgt".index(match.group(2) or " "))


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to a new file of mode 0600, never over a file or through a link that is already there.

    Raises:
        FileExistsError: something is at ``path``.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")


class ClassError(SystemExit):
    """A class cannot start as set: what is wrong, and what to do (``make class`` prints it and stops)."""

    def __init__(self, what: str, fix: str):
        super().__init__(f"{what}\nWhat to do: {fix}")
        self.what, self.fix = what, fix


@dataclass(frozen=True)
class ClassSettings:
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
    disk: str                   # per learner: work/ and engine data on one ext4 of this size (disks.py)
    idle_timeout: int           # seconds without activity before the culler stops a lab and its engine
    max_learners: int
    registry_port: int
    hub_port: int               # the hub's API, for the labs (on Docker's default bridge)
    proxy_api_port: int         # configurable-http-proxy's API (loopback)
    purge: bool
    insecure: bool              # CLASS_INSECURE=1: beyond loopback without TLS all the same
    fence: bool                 # CLASS_FENCE (default 1): firewall rules around the labs
    swarm: str                  # past one machine: the swarm manager's engine (tcp://host:2376), "" = this machine
    swarm_tls: str              # a folder with the hub's client certificate for every node (ca.pem, cert.pem, key.pem)
    node_port: int              # where each node's engine listens, on its swarm address
    reach: str                  # this machine's address that every lab reaches (hub API, registry); "" = Docker's bridge

    @classmethod
    def read(cls) -> ClassSettings:
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
                   purge=env.get("CLASS_PURGE", "") == "1", insecure=env.get("CLASS_INSECURE", "") == "1",
                   fence=env.get("CLASS_FENCE", "1") != "0", swarm=env.get("CLASS_SWARM", ""),
                   swarm_tls=env.get("CLASS_SWARM_TLS", ""), node_port=_number(env, "CLASS_NODE_PORT", "2376", int),
                   reach=env.get("CLASS_HUB_ADDRESS", ""))

    def checked(self) -> ClassSettings:
        """These settings, or ``ClassError`` before anything starts: a size that is none, a short class code, a
        hub open beyond loopback without TLS (unless CLASS_INSECURE=1)."""
        _ = self.memory_bytes
        if self.code and len(self.code) < 8:
            raise ClassError(f"CLASS_CODE is {len(self.code)} characters: anyone could guess it.",
                             "choose one of 8 characters or more, or unset it and make class makes one.")
        loopback = self.host == "localhost" or self.host == "::1" or self.host.startswith("127.")
        if not loopback and not self.tls_cert and not self.insecure:
            raise ClassError(f"CLASS_HOST={self.host} serves the hub beyond this machine without TLS: class codes "
                             "and passwords would cross the network in clear.",
                             "set CLASS_TLS_CERT and CLASS_TLS_KEY, or CLASS_INSECURE=1 on a network you trust.")
        try:
            if size_bytes(self.disk) < 1 << 30:
                raise ClassError(f"CLASS_DISK={self.disk} is under 1 GiB: the lab's bases alone need more.",
                                 "set it to 6g or more (the default is 20g).")
        except ValueError as exc:
            raise ClassError(f"CLASS_DISK: {exc}.", "write it as 20g.") from None
        if self.max_learners < 1:
            raise ClassError(f"CLASS_MAX_LEARNERS={self.max_learners} lets no one in.", "set it to 1 or more.")
        return self

    @property
    def memory_bytes(self) -> int:
        """``4g`` -> 4 GiB, as ``docker run --memory`` reads it."""
        try:
            return size_bytes(self.memory)
        except ValueError:
            raise ClassError(f"CLASS_MEMORY={self.memory!r} is not a size.", "write it as 4g, 512m or a number of bytes.") from None

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

    def state_folder(self) -> Path:
        """The state folder (hub database, secrets, logs), made 0700 by root; one that another user owns, or
        that others may write, or a symlink, is refused (``ClassError``): its secrets could be read or planted."""
        path = self.state
        try:
            path.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise ClassError(f"CLASS_STATE={path} is not a folder of its own (a link or a file).",
                             "point CLASS_STATE at a new folder; make class makes it (mode 0700).")
        if st.st_uid != os.geteuid():
            raise ClassError(f"CLASS_STATE={path} belongs to uid {st.st_uid}, not to this user ({os.geteuid()}): "
                             "its secrets could have been planted or read.",
                             "remove it, or point CLASS_STATE at a folder of this user's.")
        if st.st_mode & 0o077:
            raise ClassError(f"CLASS_STATE={path} has mode {stat.S_IMODE(st.st_mode):04o}: others may read or write "
                             "the class's secrets.", f"`chmod 700 {path}` (and check what is in it), or remove it.")
        return path

    def secret(self, name: str, length: int = 24) -> str:
        """A secret made once in the state folder: created exclusively with mode 0600 (never over a file another
        made), then read back; one readable by others, or not this user's, is refused."""
        path = self.state_folder() / name
        try:
            write_secret(path, secrets.token_urlsafe(length))
        except FileExistsError:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
                raise ClassError(f"{path} is not a secret file of this user's with mode 0600.",
                                 f"remove {path}: make class makes it again.") from None
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
        raise ClassError(f"{key}={text!r} is not a number.", f"write it as {kind(default)!r} is written, or unset it.") from None


