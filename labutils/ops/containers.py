"""Containers: ``run()`` to completion, ``serve()`` an HTTP server, ``copy_out()`` a file.

Every container carries labutils' label and is removed on every exit path,
exceptions and KeyboardInterrupt included. Taught in notebooks 01-05.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from labutils.backends import backend, tag_recorded
from labutils.docker import platforms
from labutils.ops import runlog
from labutils.util import cmd_text


@dataclass(frozen=True)
class RunResult:
    """What one ``docker run`` gave: exit code, stdout, stderr, seconds."""
    image: str
    command: str | None
    exit_code: int
    stdout: str
    stderr: str
    seconds: float = field(repr=False)
    recorded: str = field(repr=False, default="")
    """Empty for a live run; else when and on which Docker the replayed run was recorded."""
    truncated: bool = field(repr=False, default=False)
    """True when it printed more than labutils keeps (the last 1 MB of each stream); the text begins by saying so."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def __str__(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        # ok, not the number: a program that cannot be exec'd exits 1 on runc 1.1 and 255 on runc 1.3
        return (f"RunResult(image={self.image!r}, command={self.command!r}, ok={self.ok}, "
                f"stdout={self.stdout!r}, stderr={self.stderr!r})")


def run(image: str, command: str | Sequence[str] | None = None,
        env: Mapping[str, str] | None = None, timeout: float = 60, platform: str | None = None, *,
        quiet: bool = False) -> RunResult:
    """``docker run --rm image [command]``: wait for it, return what it printed (the last 1 MB of each stream).

    A non-zero exit is a result, not an error: the lesson may be that it fails
    (a program the kernel cannot exec exits 127 here, as ``docker run`` says). ``platform`` is
    ``docker run --platform``: an image of another platform runs under QEMU where the kernel has it.

    Args:
        image: the image to run, as the lab names it.
        command: the command (a string is split as a shell would), else the image's own.
        env: environment variables (``docker run -e``).
        timeout: seconds before the container is stopped and removed.
        platform: as ``docker run --platform``.
        quiet: do not print the docker command it stands for.

    Raises:
        ImageNotFound: there is no such image.
        RunTimeout: it ran longer than ``timeout`` seconds (it was stopped and removed).
        RecordingMissing: recorded mode, and the recording holds no such run.

    Example:
        >>> lu.run("welcome-optimized:v1").stdout
        'Welcome to multi-stage Docker builds\n'
    """
    b = backend()
    if not quiet:
        print("$ " + " ".join(["docker run --rm", *(f"-e {k}=..." for k in env or {}),
                               *([f"--platform {platform}"] if platform else []), image, cmd_text(command) or ""]).rstrip(),
              flush=True)
    a = b.run(image, command, dict(env or {}), timeout, platforms.checked(platform))
    runlog.log_row("run", image, seconds=a["seconds"], exit_code=a["exit_code"])
    return RunResult(image, cmd_text(command), a["exit_code"], a["stdout"], a["stderr"], a["seconds"],
                     recorded=b.describe()["label"], truncated=bool(a.get("truncated")))


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP answer from a served container."""
    url: str
    status: int
    body: str


@dataclass
class Server:
    """A running container published on the host; ``get(path)`` fetches from it."""
    image: str
    url: str
    host_port: int
    container_name: str
    _handle: Any = field(repr=False, default=None)       # the backend's seam.ServerHandle
    recorded: str = field(repr=False, default="")
    """Empty for a live server; else when and on which Docker its answers were recorded."""

    def get(self, path: str = "/", timeout: float = 5) -> HttpAnswer:
        """GET ``path`` from the server: the whole answer within ``timeout`` s, a body of at most 1 MB.

        Raises:
            HttpFailed: no answer in time, a broken connection, or a body over the cap.
            RecordingMissing: recorded mode, and this path was not recorded (so often).
        """
        return HttpAnswer(**self._handle.get(path, timeout))

    def logs(self) -> str:
        """What the server printed so far."""
        return self._handle.logs()


@contextmanager
def serve(image: str, port: int = 8080, env: Mapping[str, str] | None = None,
          ready_path: str = "/", timeout: float = 30, host_port: int | None = None,
          platform: str | None = None, *, quiet: bool = False) -> Iterator[Server]:
    """``docker run -d -p 127.0.0.1::port image``, wait until HTTP answers, always remove.

    The engine picks a free host port unless ``host_port`` is given; the port is
    read back from the engine, never assumed.

    Args:
        image: the image to serve.
        port: the container's port (the activity's server listens on 8080).
        env: environment variables (``docker run -e``).
        ready_path: the path that must answer HTTP before the server is yielded.
        timeout: seconds to wait for that answer.
        host_port: a host port of your choice (default: the engine picks a free one).
        platform: as ``docker run --platform``.
        quiet: do not print the docker command it stands for.

    Raises:
        ContainerFailed: it could not start, or exited before answering (with its logs).
        ServerNotReady: no HTTP answer at ``ready_path`` within ``timeout`` s.
        PortInUse: ``host_port`` is taken.
        ImageNotFound, RecordingMissing: as ``run()``.

    Example:
        >>> with lu.serve("activity:v1") as server:
        ...     server.get("/login").text
        '<h1>Login Page</h1>'
    """
    b = backend()
    if not quiet:
        print(f"$ docker run -d -p {f'127.0.0.1:{host_port}' if host_port else '127.0.0.1:'}:{port} "
              + (f"--platform {platform} " if platform else "") + image
              + "   # and `docker container stop` when the block ends", flush=True)
    with b.serve(image, port, dict(env or {}), ready_path, timeout, host_port, platforms.checked(platform)) as handle:
        info = handle.info
        runlog.log_row("serve", image, seconds=info.get("seconds", 0.0))
        yield Server(image, info["url"], info["host_port"], info["container_name"], handle,
                     recorded=b.describe()["label"])


def copy_out(image: str, path: str, dest, platform: str | None = None) -> Path:
    """The builder pattern's ``docker container create [--platform]`` / ``cp`` / ``rm``, through the API.

    Copies the file ``path`` out of ``image`` to ``dest`` (a folder, or a file
    name); returns where it was written. Taught in notebook 02.

    Args:
        image: the image to copy from.
        path: the file's path inside the image.
        dest: a folder (the file keeps its name) or a file name.
        platform: one image of a multi-platform index.

    Raises:
        LabError: there is no such file in the image.
        ImageNotFound, RecordingMissing: as ``run()``.

    Example:
        >>> lu.copy_out("welcome-builder:v1", "/myapp/welcome", "work/builder-pattern")
        PosixPath('work/builder-pattern/welcome')
    """
    dest = Path(dest)
    a = backend().copy_out(image, path, platforms.checked(platform))
    target = dest / a["name"] if dest.is_dir() else dest
    target.write_bytes(a["data"])
    target.chmod(a["mode"])
    return target


def file_size(image: str, path: str, platform: str | None = None) -> int:
    """Bytes of one file inside an image, read from the archive header without copying it out.

    Taught in notebook 07 (the binary beside the image); ``platform`` picks one image of a multi-platform
    index (notebook 08). Raises as ``copy_out()``.

    Args:
        image: the image to read.
        path: the file's path inside it.
        platform: one image of a multi-platform index.

    Example:
        >>> lu.human_size(lu.file_size("welcome-optimized:v1", "/myapp/welcome"))
    """
    return backend().stat(image, path, platforms.checked(platform))["size"]


def ps() -> pd.DataFrame:
    """``docker ps -a`` of labutils' containers, as a DataFrame (empty when all were removed)."""
    return tag_recorded(pd.DataFrame(backend().containers(), columns=["name", "image", "status"]))
