"""Containers: ``run()`` to completion, ``serve()`` an HTTP server, ``copy_out()`` a file.

Every container carries labutils' label and is removed on every exit path,
exceptions and KeyboardInterrupt included.
"""
from __future__ import annotations

import io
import os
import socket
import sys
import tarfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import requests
from docker.errors import APIError, ImageNotFound as _DockerImageNotFound, NotFound

from . import engine, recording, results
from .errors import ContainerFailed, ImageNotFound, LabError, PortInUse, RunTimeout, ServerNotReady


@dataclass(frozen=True)
class RunResult:
    """What one ``docker run`` gave: exit code, stdout, stderr, seconds."""
    image: str
    command: str | None
    exit_code: int
    stdout: str
    stderr: str
    seconds: float = field(repr=False)
    image_id: str = field(repr=False, default="")
    recorded: str = field(repr=False, default="")
    """Empty for a live run; else when and on which Docker the replayed run was recorded."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def __str__(self) -> str:
        return self.stdout + self.stderr


def _name(prefix: str) -> str:
    ns = engine.namespace()
    return f"labutils-{ns + '-' if ns else ''}{prefix}-{uuid.uuid4().hex[:8]}"


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except NotFound:
        pass


def _create(image: str, purpose: str, **kwargs):
    try:
        owner = {engine.PID_LABEL: str(os.getpid()), engine.HOST_LABEL: socket.gethostname()}
        return engine.client().containers.create(engine.ref(image), name=_name(purpose),
                                                 labels={**engine.labels(), **owner}, **kwargs)
    except _DockerImageNotFound:
        raise ImageNotFound(f"There is no image {image!r} on this engine.",
                            hint="build it first (run the build cell above), or check the tag.") from None
    except APIError as exc:
        raise ContainerFailed(f"The engine would not create a container from {image}.",
                              engine_said=exc.explanation or str(exc),
                              hint="check the image name and command.") from None


def _logs(container, **kw) -> str:
    try:
        return container.logs(**kw).decode("utf-8", "replace")
    except (NotFound, APIError):
        return ""


_EXEC_HINT = ("the program could not be started: a file it needs is missing. On scratch or alpine "
              "this usually means a dynamically linked binary (built with cgo against glibc): "
              "build it with CGO_ENABLED=0.")


def _start_error(container, image: str, exc: APIError, what: str) -> ContainerFailed:
    said = exc.explanation or str(exc)
    hint = "check the image's ENTRYPOINT/CMD and that the program exists in the image."
    if "no such file or directory" in said and "exec" in said:
        hint = _EXEC_HINT
    return ContainerFailed(f"The container from {image} could not start.", command=what,
                           engine_said=said, log_tail=_logs(container), hint=hint)


def _run_key(image, command, env, timeout):
    return {"image": image, "command": _cmd_text(command), "env": dict(env or {})}


def _run_encode(r: RunResult) -> dict:
    return {"image": r.image, "command": r.command, "exit_code": r.exit_code, "stdout": r.stdout,
            "stderr": r.stderr, "seconds": r.seconds, "image_id": r.image_id}


def _run_decode(a: dict, entry: dict, image, **_) -> RunResult:
    result = RunResult(**a, recorded=recording.replay().label)
    results.record("run", image, seconds=result.seconds, exit_code=result.exit_code)
    return result


@recording.replayable("run", key=_run_key, encode=_run_encode, decode=_run_decode, image_arg="image",
                      what=lambda image, command, **_: f"docker run {image}" + (f" {_cmd_text(command)}" if command else ""))
def run(image: str, command: str | Sequence[str] | None = None,
        env: Mapping[str, str] | None = None, timeout: float = 60) -> RunResult:
    """``docker run --rm image [command]``: wait for it, return what it printed.

    A non-zero exit is a result, not an error: the lesson may be that it fails.
    """
    what = f"docker run --rm {image}" + (f" {command if isinstance(command, str) else ' '.join(command)}"
                                         if command else "")
    container = _create(image, "run", command=command, environment=dict(env or {}))
    start = time.perf_counter()
    try:
        try:
            container.start()
        except APIError as exc:
            said = exc.explanation or str(exc)
            # runc refuses to exec a missing program; report it as `docker run` does (exit 127)
            return RunResult(image, _cmd_text(command), 127, "", said + "\n",
                             time.perf_counter() - start, container.attrs.get("Image", ""))
        try:
            status = container.wait(timeout=timeout)
        except requests.exceptions.RequestException:
            raise RunTimeout(f"The container from {image} was still running after {timeout} s "
                             "and was stopped.", command=what, log_tail=_logs(container)[-2000:],
                             hint="pass a larger timeout=, or check that the program ends by itself.") from None
        seconds = time.perf_counter() - start
        results.record("run", image, seconds=seconds, exit_code=status["StatusCode"])
        return RunResult(image, _cmd_text(command), status["StatusCode"],
                         _logs(container, stdout=True, stderr=False),
                         _logs(container, stdout=False, stderr=True), seconds, container.attrs.get("Image", ""))
    finally:
        _remove(container)


def _cmd_text(command) -> str | None:
    if command is None or isinstance(command, str):
        return command
    return " ".join(command)


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP answer from a served container."""
    url: str
    status: int
    body: str


@dataclass
class Server:
    """A running container published on 127.0.0.1; ``get(path)`` fetches from it."""
    image: str
    url: str
    host_port: int
    container_name: str
    _container: object = field(repr=False, default=None)
    recorded: str = field(repr=False, default="")
    """Empty for a live server; else when and on which Docker its answers were recorded."""
    answers: dict = field(repr=False, default_factory=dict)
    """path -> HttpAnswer, every answer this server gave (or, recorded, holds)."""
    recorded_logs: str = field(repr=False, default="")

    def get(self, path: str = "/", timeout: float = 5) -> HttpAnswer:
        if self.recorded:
            return self._replay_get(path)
        url = self.url.rstrip("/") + "/" + path.lstrip("/")
        resp = requests.get(url, timeout=timeout)
        self.answers[path] = answer = HttpAnswer(url, resp.status_code, resp.text)
        return answer

    def logs(self) -> str:
        return self.recorded_logs if self.recorded else _logs(self._container)

    def _replay_get(self, path: str) -> HttpAnswer:
        if path not in self.answers:
            raise recording.RecordingMissing(
                f"Recorded mode cannot answer GET {path} from {self.image}: the recording holds "
                f"answers for {sorted(self.answers)} only ({self.recorded}).",
                hint="ask for one of those paths, or run the lab where a Docker Engine runs.")
        print(f"[labutils] GET {path}: {self.recorded}; no engine was used.", file=sys.stderr, flush=True)
        return self.answers[path]


def _serve_replay(key: dict) -> Server:
    replay = recording.replay()
    what = f"docker run -d -p 127.0.0.1::{key['port']} {key['image']}"
    entry = replay.answer("serve", key, what, replay.image_check(key["image"], what))
    a = entry["answer"]
    server = Server(key["image"], a["url"], a["host_port"], a["container_name"],
                            recorded=replay.label, recorded_logs=a["logs"],
                            answers={p: HttpAnswer(**h) for p, h in a["answers"].items()})
    results.record("serve", key["image"], seconds=a["seconds"])
    return server


@contextmanager
def serve(image: str, port: int = 8080, env: Mapping[str, str] | None = None,
          ready_path: str = "/", timeout: float = 30, host_port: int | None = None) -> Iterator[Server]:
    """``docker run -d -p 127.0.0.1::port image``, wait until HTTP answers, always remove.

    The engine picks a free host port unless ``host_port`` is given; the port is
    read back from the engine, never assumed.
    """
    key = {"image": image, "port": port, "env": dict(env or {}), "ready_path": ready_path}
    if engine.mode() == "recorded":
        yield _serve_replay(key)
        return
    what = f"docker run -d -p 127.0.0.1:{host_port or ''}:{port} {image}"
    container = _create(image, "serve", environment=dict(env or {}),
                        ports={f"{port}/tcp": ("127.0.0.1", host_port)})
    try:
        try:
            container.start()
        except APIError as exc:
            said = exc.explanation or str(exc)
            if "port is already allocated" in said or "address already in use" in said:
                raise PortInUse(f"Host port {host_port} on 127.0.0.1 is already taken.", command=what,
                                engine_said=said,
                                hint="stop what uses it, or leave host_port unset so the engine picks a free one.") from None
            raise _start_error(container, image, exc, what) from None
        container.reload()
        _raise_if_exited(container, image, what)
        bound = container.attrs["NetworkSettings"]["Ports"].get(f"{port}/tcp") or []
        if not bound:
            raise ContainerFailed(f"The container from {image} published no port {port}.", command=what,
                                  log_tail=_logs(container), hint="check the port the server listens on.")
        server = Server(image, f"http://127.0.0.1:{bound[0]['HostPort']}", int(bound[0]["HostPort"]),
                        container.name, container)
        started = time.perf_counter()
        _wait_ready(server, container, ready_path, timeout, what)
        seconds = time.perf_counter() - started
        results.record("serve", image, seconds=seconds)
        server.answers.clear()
        try:
            yield server
        finally:
            recording.store("serve", key, {
                "url": server.url, "host_port": server.host_port, "container_name": server.container_name,
                "seconds": seconds, "image_id": container.attrs.get("Image", ""), "logs": server.logs(),
                "answers": {p: vars(h) for p, h in server.answers.items()}})
    finally:
        _remove(container)


def _raise_if_exited(container, image: str, what: str) -> None:
    if container.status not in ("exited", "dead"):
        return
    code = container.attrs["State"].get("ExitCode")
    logs = _logs(container)
    hint = "read its logs: the program failed at start."
    if "no such file or directory" in logs and "exec" in logs:
        hint = _EXEC_HINT
    raise ContainerFailed(f"The server in {image} exited (code {code}) before it answered HTTP.",
                          command=what, exit_code=code, log_tail=logs, hint=hint)


def _wait_ready(server: Server, container, ready_path: str, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        _raise_if_exited(container, server.image, what)
        try:
            server.get(ready_path, timeout=1)
            return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise ServerNotReady(f"The server in {server.image} did not answer {ready_path} "
                                 f"within {timeout} s; the container was removed.", command=what,
                                 log_tail=_logs(container),
                                 hint="check the port it listens on (port=) and its logs; "
                                      "pass a larger timeout= if it starts slowly.")
        time.sleep(0.2)


@recording.replayable("ps", key=lambda: {}, encode=recording.frame_answer,
                      decode=lambda a, entry: recording.frame_from(a), what=lambda: "docker ps -a")
def ps():
    """``docker ps -a`` of labutils' containers, as a DataFrame (empty when all were removed)."""
    import pandas as pd
    rows = [{"name": c.name, "image": engine.plain((c.image.tags or [c.image.short_id])[0]), "status": c.status}
            for c in engine.client().containers.list(all=True, ignore_removed=True, filters={"label": engine.LABEL})
            if engine.mine(c.labels)]
    return pd.DataFrame(rows, columns=["name", "image", "status"])


@recording.replayable("file_size", key=lambda image, path: {"image": image, "path": path}, encode=int,
                      decode=lambda a, entry, **_: a, image_arg="image",
                      what=lambda image, path: f"the size of {path} in {image}")
def file_size(image: str, path: str) -> int:
    """Bytes of one file inside an image, read from the archive header without copying it out."""
    with _archive(image, path, "stat", f"docker container cp <container>:{path}") as (stream, stat):
        close = getattr(stream, "close", None)
        if close:
            close()
        return int(stat["size"])


@contextmanager
def _archive(image: str, path: str, purpose: str, command: str):
    """``(stream, stat)`` of ``path`` in a created (never started) container of ``image``, always removed."""
    container = _create(image, purpose)
    try:
        try:
            stream, stat = container.get_archive(path)
        except NotFound:
            raise LabError(f"There is no {path} in the image {image}.", command=command,
                           hint="check the path the build wrote its output to (WORKDIR, go build -o, "
                                "COPY destination).") from None
        yield stream, {**stat, "image_id": container.attrs.get("Image", "")}
    finally:
        _remove(container)


def _copy_out_replay(key: dict, dest: Path) -> Path:
    replay = recording.replay()
    what = f"docker container cp {key['image']}:{key['path']}"
    a = replay.answer("copy_out", key, what, replay.image_check(key["image"], what))["answer"]
    target = dest / a["name"] if dest.is_dir() else dest
    target.write_bytes(replay.file(a["sha256"]))
    target.chmod(a["mode"])
    return target


def copy_out(image: str, path: str, dest) -> Path:
    """The builder pattern's ``docker container create`` / ``cp`` / ``rm``, through the API.

    Copies the file ``path`` out of ``image`` to ``dest`` (a folder, or a file
    name); returns where it was written.
    """
    dest = Path(dest)
    key = {"image": image, "path": path}
    if engine.mode() == "recorded":
        return _copy_out_replay(key, dest)
    with _archive(image, path, "copy", f"docker container cp <container>:{path} {dest}") as (stream, stat):
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = next(m for m in tar.getmembers() if m.isfile())
            target = dest / Path(member.name).name if dest.is_dir() else dest
            data = tar.extractfile(member).read()
            target.write_bytes(data)
            target.chmod(member.mode & 0o777)
        sha = recording.digest(data)
        recording.store("copy_out", key, {"name": target.name, "mode": member.mode & 0o777, "sha256": sha,
                                          "size": len(data), "image_id": stat["image_id"]},
                        files={sha: data})
        return target
