#!/usr/bin/env python3
"""A Docker Swarm of Docker 28.5 engines, made on this host to prove a class past one machine.

    python -m tools.swarm up [--nodes 2]     # the nodes, one new swarm; prints the CLASS_* variables for it
    python -m tools.swarm env                # those variables again
    python -m tools.swarm down [--purge]     # the nodes (and with --purge their volumes and certificates)

On real machines every node is a machine running Docker, joined with ``docker swarm join``, its engine's API
on TCP behind mutual TLS (Docker's "Protect the Docker daemon socket"). Here every node is ``dockerd`` from
Debian sid (the engine matrix's image) in a container of this host, all on one bridge where Swarm's ports
(2377, 7946, 4789) meet. Node 1 is the manager; every node takes learners. The hub holds the only client
certificate: a learner's lab can reach its node's port 2376 but cannot speak to it.

Each node trusts the class registry (``CLASS_REGISTRY_PORT`` on this host's Docker bridge) over plain HTTP, as
a class on a private network would; it pulls the learners' image from there.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from labutils.classroom.deploy import reach
from labutils.classroom.settings import ClassSettings
from tools import engines  # the rigs' image and flags

PREFIX = "labutils-swarm"
NETWORK = f"{PREFIX}-net"
LABEL = "io.labutils.swarm"
PORT = 2376


def say(text: str) -> None:
    print(f"[swarm] {text}", flush=True)


def state() -> Path:
    return engines.STATE / "swarm"


def node(i: int) -> str:
    return f"{PREFIX}-node{i}"


def nodes() -> list[str]:
    out = engines.host("ps", "-a", "--filter", f"label={LABEL}=node", "--format", "{{.Names}}", capture=True)
    return sorted(out.stdout.split())


def inner(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return engines.host("exec", name, "docker", "-H", "unix:///run/dind/docker.sock", *args, check=check,
                        capture=True)


def address(name: str) -> str:
    return engines.host("inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{NETWORK}\").IPAddress}}}}",
                        name, capture=True).stdout.strip()


def certificates(addresses: list[str]) -> None:
    """A CA, one server certificate for every node's address, and the hub's client certificate (openssl)."""
    certs = state() / "certs"               # the nodes mount this folder: its files change, never the folder
    for old in sorted(certs.rglob("*"), reverse=True):
        old.rmdir() if old.is_dir() else old.unlink()
    (certs / "client").mkdir(parents=True)

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=certs, check=True, capture_output=True)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=labutils-swarm-ca",
        "-keyout", "ca-key.pem", "-out", "ca.pem")
    sans = ",".join(["DNS:localhost", "IP:127.0.0.1", *(f"IP:{a}" for a in addresses)])
    (certs / "server.ext").write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
    (certs / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who, ext in (("server", "server.ext"), ("client/", "client.ext")):
        key, cert = (f"{who}key.pem", f"{who}cert.pem") if who.endswith("/") else (f"{who}-key.pem", f"{who}.pem")
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who.strip('/')}", "-keyout", key, "-out", "req.csr")
        ssl("x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "30", "-extfile", ext, "-out", cert)
    shutil.copy2(certs / "ca.pem", certs / "client" / "ca.pem")
    for path in certs.rglob("*key.pem"):
        path.chmod(0o600)


def up(count: int) -> None:
    engines.image()
    s = ClassSettings.read()
    registry = f"{reach(s)}:{s.registry_port}"
    if len(nodes()) == count and all(_answers(n) for n in nodes()):
        say(f"{count} nodes are already up")
        return
    down(purge=True)                # a swarm is made afresh: nodes' addresses and certificates change
    if engines.host("network", "inspect", NETWORK, check=False, capture=True).returncode != 0:
        engines.host("network", "create", "--label", f"{LABEL}=network", NETWORK, capture=True)
    # a node's own bridges stay off this host's Docker ranges (172.17.0.0/16 and up), where the class registry
    # and the hub are reached: an engine's default docker0 is 172.17.0.1 too, and would hide them
    conf = json.dumps({"storage-driver": "overlay2", "features": {"containerd-snapshotter": False},
                       "insecure-registries": [registry], "bip": "10.96.0.1/24",
                       "default-address-pools": [{"base": "10.97.0.0/16", "size": 24}]})
    # each node waits for its certificate (made once every node's address is known), then runs its engine
    script = (f"mkdir -p /etc/docker /run/dind && echo '{conf}' > /etc/docker/daemon.json"
              " && until [ -f /certs/server.pem ]; do sleep 0.2; done"
              f" && exec dockerd -H unix:///run/dind/docker.sock -H tcp://0.0.0.0:{PORT} --tlsverify"
              " --tlscacert /certs/ca.pem --tlscert /certs/server.pem --tlskey /certs/server-key.pem")
    (state() / "certs").mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        engines.host("run", "-d", "--name", node(i), "--hostname", f"node{i}", "--label", f"{LABEL}=node",
                     "--network", NETWORK, *engines.DIND, "--device", "/dev/net/tun",
                     "-v", f"{node(i)}-docker:/var/lib/docker", "-v", f"{node(i)}-containerd:/var/lib/containerd",
                     "-v", f"{state() / 'certs'}:/certs:ro", engines.IMAGE, "sh", "-c", script, capture=True)
    names = nodes()
    certificates([address(n) for n in names])
    for n in names:
        deadline = time.time() + 90
        while not _answers(n):
            running = engines.host("inspect", "-f", "{{.State.Running}}", n, capture=True).stdout.strip()
            if time.time() > deadline or running != "true":
                logs = engines.host("logs", "--tail", "20", n, check=False, capture=True)
                sys.exit(f"the engine in {n} did not answer:\n{logs.stdout}{logs.stderr}")
            time.sleep(1)
    manager = names[0]
    inner(manager, "swarm", "init", "--advertise-addr", address(manager))
    token = inner(manager, "swarm", "join-token", "-q", "worker").stdout.strip()
    for n in names[1:]:
        inner(n, "swarm", "join", "--token", token, f"{address(manager)}:2377")
    listed = inner(manager, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}").stdout
    version = inner(manager, "version", "--format", "{{.Server.Version}}").stdout.strip()
    say(f"a swarm of {len(names)} Docker {version} engines:\n{listed.strip()}")
    say(f"every node trusts the class registry at {registry}")


def _answers(name: str) -> bool:
    return inner(name, "version", "--format", "{{.Server.Version}}", check=False).returncode == 0


def environment() -> dict:
    names = nodes()
    if not names:
        sys.exit("no swarm is up: run `python -m tools.swarm up` first")
    return {"CLASS_SWARM": f"tcp://{address(names[0])}:{PORT}", "CLASS_SWARM_TLS": str(state() / "certs" / "client"),
            "CLASS_NODE_PORT": str(PORT)}


def down(purge: bool) -> None:
    for n in nodes():
        for _ in range(5):
            engines.host("rm", "-f", "-v", n, check=False, capture=True)
            if engines.host("inspect", n, check=False, capture=True).returncode != 0:
                break
            time.sleep(2)
        say(f"{n} removed")
    engines.host("network", "rm", NETWORK, check=False, capture=True)
    if purge:
        for v in engines.host("volume", "ls", "-q", capture=True).stdout.split():
            if v.startswith(f"{PREFIX}-node"):
                engines.host("volume", "rm", v, check=False, capture=True)
        shutil.rmtree(state(), ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "env", "down"])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--purge", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "up":
        up(args.nodes)
    if args.command in ("up", "env"):
        for key, value in environment().items():
            print(f"export {key}='{value}'")
    if args.command == "down":
        down(args.purge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
