"""The fence around a class's labs: the host's own firewall (iptables), installed by ``make class``.

Every learner's lab sits on a bridge of its own whose interface is named for the class (``bridge_prefix``):
``lc`` and six hex digits of the class's name, then eight of the learner's. Two chains, named for the class,
take every packet that comes in on those interfaces:

- ``<chain>-IN``, jumped to from ``INPUT`` (a lab -> any address of this machine): answers to connections the
  host made (the hub and the proxy reach into the labs), the hub's API port on the hub's address; the rest
  is dropped, so no other service of this machine is reachable on any of its addresses.
- ``<chain>-FWD``, jumped to from Docker's ``DOCKER-USER`` (a lab -> anything routed: another lab, a
  container, a private, link-local or public address): answers, and the class registry by the address and
  port it is published on; the rest is dropped.

``remove`` takes out exactly these jumps and chains (never another class's, never Docker's); ``down`` and a
failed ``up`` call it. IPv4 only: Docker gives the labs' networks no IPv6.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess

from labutils.classroom.settings import ClassError, ClassSettings


def _short(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def bridge_prefix(class_name: str) -> str:
    """The start of every lab bridge's interface name of this class (``lc`` + 6 hex digits)."""
    return f"lc{_short(class_name, 6)}"


def bridge_name(class_name: str, learner: str) -> str:
    """The interface of ``learner``'s bridge: 16 characters at most, as Linux allows (15 and the NUL)."""
    return bridge_prefix(class_name) + _short(learner, 7)


def chain(class_name: str) -> str:
    return f"LABUTILS-{_short(class_name, 8)}"


def _ipt(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["iptables", "-w", "10", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ClassError(f"`iptables {' '.join(args)}` failed: {proc.stderr.strip()[-300:]}",
                         "run make class as root on a host with iptables, or CLASS_FENCE=0 without a fence.")
    return proc


def rules(s: ClassSettings, hub: str, registry: str) -> dict[str, list[list[str]]]:
    """The rules of the two chains, as ``iptables -A`` arguments: what ``install`` writes, ``describe`` says."""
    reg_host, _, reg_port = registry.rpartition(":")
    answers = ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"]
    return {
        "IN": [answers,
               ["-p", "tcp", "-d", hub, "--dport", str(s.hub_port), "-j", "ACCEPT"],
               ["-p", "tcp", "-d", reg_host, "--dport", reg_port, "-j", "ACCEPT"],   # docker-proxy's registry port
               ["-j", "DROP"]],
        "FWD": [answers[:-1] + ["RETURN"],
                ["-p", "tcp", "-m", "conntrack", "--ctorigdst", reg_host, "--ctorigdstport", reg_port,
                 "-j", "RETURN"],
                ["-j", "DROP"]],
    }


def install(s: ClassSettings, hub: str, registry: str) -> None:
    """Write this class's chains anew (the hub's API at ``hub``, the registry at ``registry``, ``host:port``) and
    jump to them first from INPUT and DOCKER-USER.

    Raises:
        ClassError: iptables is missing or refuses (not root), or Docker has no DOCKER-USER chain.
    """
    if shutil.which("iptables") is None:
        raise ClassError("iptables is not installed.", "apt-get install iptables, or CLASS_FENCE=0.")
    if _ipt("-S", "DOCKER-USER", check=False).returncode != 0:
        raise ClassError("This engine has no DOCKER-USER chain (Docker's iptables rules are off?).",
                         "run dockerd with its iptables rules (the default), or CLASS_FENCE=0.")
    remove(s)
    name, iface = chain(s.name), bridge_prefix(s.name) + "+"
    for kind, body in rules(s, hub, registry).items():
        _ipt("-N", f"{name}-{kind}")
        for rule in body:
            _ipt("-A", f"{name}-{kind}", *rule)
    _ipt("-I", "INPUT", "1", "-i", iface, "-j", f"{name}-IN")
    _ipt("-I", "DOCKER-USER", "1", "-i", iface, "-j", f"{name}-FWD")


def remove(s: ClassSettings) -> bool:
    """Take out this class's jumps and chains, wherever they are; True when there were any."""
    if shutil.which("iptables") is None:
        return False
    name, iface, found = chain(s.name), bridge_prefix(s.name) + "+", False
    for parent, kind in (("INPUT", "IN"), ("DOCKER-USER", "FWD")):
        while _ipt("-D", parent, "-i", iface, "-j", f"{name}-{kind}", check=False).returncode == 0:
            found = True
        if _ipt("-F", f"{name}-{kind}", check=False).returncode == 0:
            _ipt("-X", f"{name}-{kind}", check=False)
            found = True
    return found


def describe(s: ClassSettings) -> str:
    return f"iptables chains {chain(s.name)}-IN and -FWD on interfaces {bridge_prefix(s.name)}*"


def listed(s: ClassSettings) -> str:
    """What iptables holds of this class now (``iptables -S``), for the tests and an instructor."""
    name = chain(s.name)
    out = [_ipt("-S", f"{name}-{kind}", check=False).stdout for kind in ("IN", "FWD")]
    out += [line for parent in ("INPUT", "DOCKER-USER") for line in _ipt("-S", parent, check=False).stdout.splitlines()
            if name in line]
    return "\n".join(out)
