"""A class past one machine: JupyterHub on this host, learners placed by Docker Swarm on a swarm of two Docker
28.5 engines (tools/swarm.py: each node a container of this host, its API behind mutual TLS).

Swarm's scheduler places each learner's seat; the lab (JupyterLab and a rootless engine) runs on that node as a
plain container, since a swarm service cannot unmask /proc (labutils/classroom/spawners.py). Everything a learner does goes
through the hub, as in test_class.py; every node pulls the learners' image and every lab its bases from the
class registry on this host.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from shared import ROOT, class_env

from labutils.classroom import shared_engine
from labutils.classroom.hub import Hub
from labutils.classroom.view import hub_view

pytestmark = [pytest.mark.engine, pytest.mark.hub, pytest.mark.swarm]
NAME = "lutestswarm"
LEARNERS = ("ada", "bob")
SWARM = [sys.executable, "-m", "tools.swarm"]            # from ROOT


class Swarm:
    def __init__(self, env: dict):
        self.env = env
        self.url = f"http://127.0.0.1:{env['CLASS_PORT']}"
        self.token = open(os.path.join(env["CLASS_STATE"], "instructor-token")).read().strip()
        self.seconds: dict[str, float] = {}

    def node_docker(self, url: str, *args: str, check: bool = True) -> str:
        tls = self.env["CLASS_SWARM_TLS"]
        return subprocess.run(["docker", "--tlsverify", "--tlscacert", f"{tls}/ca.pem", "--tlscert", f"{tls}/cert.pem",
                               "--tlskey", f"{tls}/key.pem", "-H", url, *args], capture_output=True, text=True,
                              check=check).stdout

    def nodes(self) -> dict[str, str]:
        """hostname -> the node's engine URL, as the manager lists them."""
        found = {}
        for nid in self.node_docker(self.env["CLASS_SWARM"], "node", "ls", "-q").split():
            host, addr = self.node_docker(self.env["CLASS_SWARM"], "node", "inspect", "-f",
                                          "{{.Description.Hostname}} {{.Status.Addr}}", nid).split()
            found[host] = f"tcp://{addr}:{self.env['CLASS_NODE_PORT']}"
        return found

    def where(self, learner: str) -> list[str]:
        """The nodes whose engine runs ``learner``'s lab container."""
        return [host for host, url in self.nodes().items()
                if self.node_docker(url, "ps", "-q", "--filter", f"name={NAME}-lab-{learner}").strip()]

    def leftovers(self) -> list[str]:
        left = []
        for url in self.nodes().values():
            left += self.node_docker(url, "ps", "-aq", "--filter", f"label=io.labutils.class={NAME}").split()
            left += self.node_docker(url, "network", "ls", "-q", "--filter", f"label=io.labutils.class={NAME}").split()
            left += [v for v in self.node_docker(url, "volume", "ls", "-q").split() if v.startswith(f"{NAME}-")]
        left += self.node_docker(self.env["CLASS_SWARM"], "service", "ls", "-q", "--filter",
                                 f"label=io.labutils.class={NAME}").split()
        return left


@pytest.fixture(scope="module")
def swarm(live, tmp_path_factory):
    env = class_env(NAME, tmp_path_factory.mktemp("swarm-class-state"), "lutest-swarm-code")
    started = time.monotonic()
    made = subprocess.run([*SWARM, "up", "--nodes", "2"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    try:
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        for line in made.stdout.splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export "):].partition("=")
                env[key] = value.strip("'")
        up = subprocess.run(["make", "class"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        s = Swarm(env)
        s.seconds["swarm and class up"] = time.monotonic() - started
        yield s
    finally:
        subprocess.run(["make", "class-down", "CLASS_PURGE=1"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
        subprocess.run([*SWARM, "down", "--purge"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


ENGINE = """
import json, subprocess
info = json.loads(subprocess.run(["docker", "info", "--format", "{{json .}}"], capture_output=True, text=True).stdout)
pulled = subprocess.run(["docker", "pull", "-q", "golang:1.15.6"], capture_output=True, text=True)
print(json.dumps({"id": info["ID"], "rootless": "rootless" in " ".join(info.get("SecurityOptions") or []),
                  "pulled": pulled.returncode, "said": pulled.stderr[-300:]}))
"""


def _learner(swarm: Swarm, name: str) -> dict:
    started = time.monotonic()
    hub = Hub.sign_in(swarm.url, name, f"{name}-own-secret-9", code="lutest-swarm-code")
    hub.start(name, timeout=600)
    ready = time.monotonic() - started
    engine = hub.lab(name).run(ENGINE, timeout=600)
    assert engine.ok, (name, engine)
    ran = hub.lab(name).run_notebook("notebooks/01-normal-build.ipynb", timeout=1200)
    return {"ready": ready, "engine": json.loads(engine.stdout.strip().splitlines()[-1]),
            "01": (ran.ok, ran.error, ran.cell), "seconds": time.monotonic() - started}


def test_swarm_places_learners_on_different_nodes_each_with_an_engine_of_their_own(swarm):
    assert len(swarm.nodes()) == 2, swarm.nodes()
    with ThreadPoolExecutor(len(LEARNERS)) as pool:
        done = dict(zip(LEARNERS, pool.map(lambda n: _learner(swarm, n), LEARNERS), strict=True))
    for name, got in done.items():
        swarm.seconds[f"{name}: first sign-in to a ready lab (the node pulls the lab image)"] = got["ready"]
        swarm.seconds[f"{name}: bases pulled and notebook 01"] = got["seconds"] - got["ready"]
        assert got["engine"]["pulled"] == 0, f"{name}'s engine could not pull from the class registry: {got['engine']}"
        assert got["engine"]["rootless"], got["engine"]
        assert got["01"][0], f"{name}: notebook 01 failed: {got['01']}"
    print(json.dumps(swarm.seconds, indent=1))
    placed = {name: swarm.where(name) for name in LEARNERS}
    assert all(len(nodes) == 1 for nodes in placed.values()), placed
    assert placed["ada"] != placed["bob"], f"Swarm's spread put both learners on one node: {placed}"
    assert done["ada"]["engine"]["id"] != done["bob"]["engine"]["id"], "two learners share an engine"


PROBE = r"""
import json, os, socket, ssl
out = {"host socket": os.path.exists("/var/run/docker.sock")}
for name, addr in NODES.items():
    s = socket.create_connection((addr, PORT), timeout=5)
    try:
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(s) as t:
            t.sendall(b"GET /info HTTP/1.0\r\n\r\n"); out[name] = t.recv(200).decode(errors="replace")[:40]
    except (ssl.SSLError, OSError) as e:
        out[name] = "refused: " + type(e).__name__
import http.client
lab = http.client.HTTPConnection(*BOB, timeout=10)       # bob's lab, on his node's published port
lab.request("GET", "/user/bob/api/contents/work")
out["bob's lab"] = lab.getresponse().status
print(json.dumps(out))
"""


def test_no_learner_reaches_a_nodes_engine_or_another_learners_lab(swarm):
    nodes = {host: url.split("//")[1].split(":")[0] for host, url in swarm.nodes().items()}
    bob_node = swarm.nodes()[swarm.where("bob")[0]]
    bob = (bob_node.split("//")[1].split(":")[0],
           int(swarm.node_docker(bob_node, "port", f"{NAME}-lab-bob", "8888").split(":")[-1]))
    ada = Hub.sign_in(swarm.url, "ada", "ada-own-secret-9")
    ran = ada.lab("ada").run(f"NODES, PORT, BOB = {nodes!r}, {swarm.env['CLASS_NODE_PORT']}, {bob!r}\n" + PROBE,
                             timeout=120)
    assert ran.ok, ran
    got = json.loads(ran.stdout.strip().splitlines()[-1])
    assert got.pop("host socket") is False
    # on a swarm the hub reaches a lab on its node's address, so ada's packets reach bob's server too; his
    # Jupyter server then refuses her without his token or cookie (said in the README)
    assert got.pop("bob's lab") in (302, 403), "ada read bob's files on his node's published port"
    assert all(answer.startswith("refused") for answer in got.values()), \
        f"ada spoke to a node's engine without the hub's certificate: {got}"
    assert requests.get(f"{swarm.url}/user/bob/api/status", headers={"Authorization": f"token {ada.token}"},
                        allow_redirects=False, timeout=10).status_code in (302, 403, 404), "ada reached bob's lab"


def test_the_class_view_sees_every_learner_on_every_node(swarm):
    view = hub_view(swarm.url, swarm.token)
    grid = shared_engine.grid(view)
    assert list(grid.index) == list(LEARNERS), grid
    for name in LEARNERS:
        assert grid.loc[name, "normal-build"] == "reference works", grid.loc[name]


def test_a_restarted_learner_goes_back_to_the_node_that_holds_their_work(swarm):
    hub = Hub(swarm.url, swarm.token)
    first = swarm.where("bob")
    hub.stop("bob")
    assert not swarm.where("bob"), "bob's lab still runs"
    hub.start("bob", timeout=600)
    assert swarm.where("bob") == first, f"bob moved from {first} to {swarm.where('bob')}: his volumes stayed behind"
    assert hub.lab("bob").read("work/progress.json") is not None, "bob's work/ was lost"


def test_class_down_leaves_nothing_on_any_node(swarm):
    assert swarm.leftovers(), "the class is there before it is taken down"
    down = subprocess.run(["make", "class-down", "CLASS_PURGE=1"], cwd=ROOT, env=swarm.env, capture_output=True,
                          text=True, timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not swarm.leftovers(), f"left behind: {swarm.leftovers()}"
