"""The class's spawners: dockerspawner's DockerSpawner with a bridge network per learner and, past one machine,
the same lab placed by Docker Swarm.

A swarm service cannot run a learner's engine: its spec has no ``systempaths=unconfined`` (masked and read-only
/proc paths), so the rootless engine inside cannot mount /proc for its containers (../shared/classroom.md). So
``PlacedSpawner`` lets Swarm place a *seat* (a service of one task, reserving the lab's CPU and memory), reads
the node Swarm chose, and starts the lab there as a plain container through that node's engine (mutual TLS).
Placement is Swarm's scheduler; nothing here picks a node. A learner's volumes live on the node, so after the
first placement the seat is constrained to that node: work and images are found again on every sign-in.
"""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from urllib.parse import urlparse

import docker
from dockerspawner import DockerSpawner
from traitlets import Dict, Float, Integer, Unicode

from labutils.classroom import LABEL, PART, disks
from labutils.classroom.fence import bridge_name

READY = b"the learner's Docker Engine answers"
"""What class/start-lab.sh prints when the learner's engine is up, just before it starts JupyterLab."""


class LabFailed(RuntimeError):
    """A lab that did not start; JupyterHub shows ``jupyterhub_message`` on the learner's page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.jupyterhub_message = message


class LabSpawner(DockerSpawner):
    """A learner's lab on this machine's engine, on a bridge network of their own (no lab reaches another's).

    Its bridge's interface is named for the class (``fence.bridge_name``), so the class's firewall rules take
    every packet from it. A lab that stops while it starts (its engine did not come up) fails the spawn at
    once with the lab's own last lines, which the learner's spawn page shows; they are kept for the
    instructor in ``<state>/lab-logs/<learner>.log``.
    """

    class_name = Unicode("labutils-class", config=True, help="CLASS_NAME: the label and prefix of everything")
    log_folder = Unicode("", config=True, help="where a lab that failed to start leaves its log (the state folder)")
    engine_timeout = Integer(150, config=True, help="seconds a lab's engine has to answer")
    disk = Unicode("", config=True, help="CLASS_DISK: work/ and the engine's data on a file system of this size "
                                         "(labutils.classroom.disks); empty: on named volumes, unbounded")

    async def start(self):
        self.network_name = await self.own_network()
        if self.disk and self.log_folder:
            paths = await asyncio.get_running_loop().run_in_executor(
                None, disks.ensure, Path(self.log_folder), self.escaped_name, self.disk)
            self.volumes = {str(paths["work"]): "/home/learner/course/work",
                            str(paths["engine"]): "/home/learner/.local/share/docker"}
        started = await super().start()
        await self.engine_ready()
        return started

    async def own_network(self) -> str:
        name = f"{self.class_name}-net-{self.escaped_name}"
        if not await self.docker("networks", names=[name]):
            await self.docker("create_network", name, driver="bridge",
                              options={"com.docker.network.bridge.name": bridge_name(self.class_name, self.user.name)},
                              labels={LABEL: self.class_name, PART: "network"})
        return name

    async def engine_ready(self) -> None:
        """Wait until the lab says its engine answers; a lab that stops first fails the spawn with its log."""
        deadline = time.monotonic() + self.engine_timeout
        while True:
            logs = await self.docker("logs", self.container_id, tail=60)
            if READY in logs:
                return
            info = await self.docker("inspect_container", self.container_id)
            stopped = not info["State"]["Running"]
            if stopped or time.monotonic() > deadline:
                tail = logs.decode(errors="replace")[-3000:]
                self._keep_log(tail)
                await self.stop_object()          # its log is read: the failed lab leaves nothing running
                await self.remove_object()
                self.object_id = ""
                why = (f"exited with status {info['State']['ExitCode']}" if stopped
                       else f"gave no sign of its engine within {self.engine_timeout} s")
                raise LabFailed(f"{self.user.name}'s lab {why}. Its last lines:\n{tail[-1200:]}\n"
                                "Ask the instructor: their copy is in the class's lab-logs folder.")
            await asyncio.sleep(1)

    def _keep_log(self, text: str) -> None:
        if not self.log_folder:
            return
        folder = os.path.join(self.log_folder, "lab-logs")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, f"{self.escaped_name}.log")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)


class PlacedSpawner(LabSpawner):
    """The lab on the swarm node that Swarm's scheduler chose for the learner's seat."""

    manager_url = Unicode(config=True, help="CLASS_SWARM: the swarm manager's engine, tcp://host:2376")
    node_tls = Dict(config=True, help="docker.tls.TLSConfig arguments for every node's engine (the hub's certificate)")
    node_port = Integer(2376, config=True, help="where each node's engine listens, on the node's swarm address")
    seat_image = Unicode(config=True, help="the image the seat runs (the lab image: it is then on the node)")
    reserve_cpus = Float(0.0, config=True)
    reserve_memory = Integer(0, config=True)
    place_timeout = Integer(180, config=True)

    node_id = Unicode("")               # kept in the hub's database: where this learner's volumes are
    node_url = Unicode("")              # ... and that node's engine
    _clients: dict = {}

    def _connect(self, url: str) -> docker.APIClient:
        if url not in self._clients:
            tls = docker.tls.TLSConfig(**self.node_tls) if self.node_tls else None
            client = docker.APIClient(base_url=url, tls=tls, timeout=60, version="1.41")
            # requests lets REQUESTS_CA_BUNDLE win over a session's own CA (psf/requests#3829): not here
            client.trust_env = False
            client._version = client._retrieve_server_version()
            self._clients[url] = client
        return self._clients[url]

    @property
    def manager(self) -> docker.APIClient:
        return self._connect(self.manager_url)

    @property
    def client(self):
        """The engine of the node this learner sits on (the manager's until Swarm has placed them)."""
        return self._connect(self.node_url) if self.node_url else self.manager

    @property
    def seat(self) -> str:
        return f"{self.class_name}-seat-{self.escaped_name}"

    async def start(self):
        await self.place()
        try:
            return await super().start()
        except BaseException:
            await self._call(self.manager, "remove_service", self.seat, missing_ok=True)
            raise

    async def stop(self, now=False):
        try:
            await super().stop(now=now)
        finally:
            await self._call(self.manager, "remove_service", self.seat, missing_ok=True)

    async def place(self) -> None:
        """Ask Swarm for a seat (its scheduler places it), then aim this spawner at that node's engine."""
        await self._call(self.manager, "remove_service", self.seat, missing_ok=True)
        placement = docker.types.Placement(constraints=[f"node.id=={self.node_id}"] if self.node_id else None)
        resources = docker.types.Resources(cpu_reservation=int(self.reserve_cpus * 1e9) or None,
                                           mem_reservation=self.reserve_memory or None)
        task = docker.types.TaskTemplate(
            container_spec=docker.types.ContainerSpec(self.seat_image, command=["sleep", "infinity"],
                                                      labels={LABEL: self.class_name, PART: "seat"}),
            resources=resources, placement=placement,
            restart_policy=docker.types.RestartPolicy(condition="none"))
        await self._call(self.manager, "create_service", task, name=self.seat,
                         labels={LABEL: self.class_name, PART: "seat"})
        node, why = await self._placed()
        if not node:
            await self._call(self.manager, "remove_service", self.seat, missing_ok=True)
            where = f"node {self.node_id[:12]}, which holds your work," if self.node_id else "any node"
            raise RuntimeError(f"Docker Swarm could not seat {self.user.name}'s lab on {where} within "
                               f"{self.place_timeout} s: {why}. Ask the instructor (no room: add a node or stop "
                               "idle labs; an image error: the nodes must reach the class registry).")
        info = await self._call(self.manager, "inspect_node", node)
        self.node_id = node
        self.node_url = f"tcp://{info['Status']['Addr']}:{self.node_port}"
        self.log.info("Swarm placed %s on node %s (%s)", self.user.name, info["Description"]["Hostname"],
                      self.node_url)

    async def _placed(self) -> tuple[str, str]:
        deadline, why = time.monotonic() + self.place_timeout, "no task yet"
        while time.monotonic() < deadline:
            for task in await self._call(self.manager, "tasks", filters={"service": self.seat}):
                status = task.get("Status", {})
                if status.get("State") == "running":
                    return task["NodeID"], ""
                why = status.get("Err") or status.get("Message") or why
                if status.get("State") in ("rejected", "failed", "orphaned"):
                    return "", why             # the seat restarts never: the node said why it could not run it
            await asyncio.sleep(1)
        return "", why

    async def _call(self, client, method: str, *args, missing_ok: bool = False, **kwargs):
        try:
            return await asyncio.wrap_future(self.executor.submit(getattr(client, method), *args, **kwargs))
        except docker.errors.NotFound:
            if missing_ok:
                return None
            raise

    async def get_ip_and_port(self):
        ip, port = await super().get_ip_and_port()
        return (urlparse(self.node_url).hostname if ip in ("0.0.0.0", "") else ip), port

    def load_state(self, state):
        super().load_state(state)
        self.node_id = state.get("node_id", "")
        self.node_url = state.get("node_url", "")

    def get_state(self):
        state = super().get_state()
        if self.node_id:            # kept when the lab stops: the learner's volumes stay on this node
            state.update(node_id=self.node_id, node_url=self.node_url)
        return state
