"""A served container as the live backend sees it: its URL, its answers, its readiness."""
from __future__ import annotations

import os
import time

import requests
from docker.errors import APIError, NotFound

from labutils.backends.live import engine
from labutils.backends.live.engine import LOST
from labutils.errors import ContainerFailed, HttpFailed, ServerNotReady
from labutils.seam import HttpAnswerFields, ServeInfo

EXEC_HINT = ("the program could not be started: a file it needs is missing. On scratch or alpine this usually "
             "means a dynamically linked binary (built with cgo against glibc): build it with CGO_ENABLED=0.")


class LiveServer:
    """A served container, seen from the host: ``get(path)`` and ``logs()``."""

    def __init__(self, container, url: str, host_port: int):
        self._container = container
        self.info: ServeInfo = {"url": url, "host_port": host_port, "container_name": container.name}

    def get(self, path: str, timeout: float = 5) -> HttpAnswerFields:
        """GET ``path``: the whole answer within ``timeout`` seconds, at most ``BODY_LIMIT`` bytes of body.

        Raises:
            HttpFailed: no answer in time, a broken connection, or a body over the cap (what the server did).
        """
        url = self.info["url"].rstrip("/") + "/" + path.lstrip("/")
        deadline = time.monotonic() + timeout
        try:
            with requests.get(url, timeout=timeout, stream=True) as resp:
                body = bytearray()
                for chunk in resp.iter_content(chunk_size=1 << 14):
                    body += chunk
                    if len(body) > BODY_LIMIT:
                        raise HttpFailed(f"The server at {url} answered more than {BODY_LIMIT >> 20} MB; "
                                         "labutils stopped reading.", command=f"GET {url}",
                                         hint="a page of the lab is a few bytes: check what the handler writes.")
                    if time.monotonic() > deadline:
                        raise HttpFailed(f"The server at {url} was still sending after {timeout} s; "
                                         "labutils stopped reading.", command=f"GET {url}",
                                         hint="check that the handler ends its answer (no endless loop).")
                text = body.decode(resp.encoding or "utf-8", "replace")
                return {"url": url, "status": resp.status_code, "body": text}
        except requests.RequestException as exc:
            raise HttpFailed(f"GET {url} failed: {'no answer in time' if engine.timed_out(exc) else 'the connection broke'}.",
                             command=f"GET {url}", engine_said=engine.short(exc),
                             hint="check that the server answers this path and keeps running (its logs say).") from None

    def logs(self) -> str:
        return _logs(self._container)


LOG_LIMIT = 1 << 20
"""Bytes of a container's output labutils keeps (the last ones); the rest is said to be cut, never held."""
LOG_CONFIG = {"type": "json-file", "config": {"max-size": "4m", "max-file": "2"}}
"""Every container's log on the engine's disk: at most two files of 4 MB, whatever the program prints."""
BODY_LIMIT = 1 << 20
"""Bytes of one HTTP answer labutils reads from a served container."""
CUT = "[labutils] earlier output cut: only the last 1 MB is kept\n"


def read_logs(container, limit: int = LOG_LIMIT, **kw) -> tuple[str, bool]:
    """The last ``limit`` bytes a container printed, read as a stream, and whether earlier ones were cut.

    Best effort: a container already gone, or an engine that went away, gives what was read so far.
    """
    kept, cut = bytearray(), False
    try:
        for chunk in container.logs(stream=True, follow=False, **kw):
            kept += chunk
            if len(kept) > limit:
                del kept[:len(kept) - limit]
                cut = True
    except (NotFound, APIError, *LOST):
        pass
    return kept.decode("utf-8", "replace"), cut or _rotated(container)


def _rotated(container) -> bool:
    """True when the engine's log of this container was rotated (so earlier output is gone), where it can be seen:
    the engine on this machine keeps its json-file log at LogPath, and ``<LogPath>.1`` is the rotated part."""
    path = (getattr(container, "attrs", None) or {}).get("LogPath") or ""
    try:
        return bool(path) and os.path.exists(path + ".1")
    except OSError:
        return False


def exec_hint(said: str, otherwise: str) -> str:
    """EXEC_HINT where the engine or the program said an exec found no file (a dynamic binary on scratch)."""
    return EXEC_HINT if ("no such file or directory" in said and "exec" in said) else otherwise


def _logs(container, **kw) -> str:
    text, cut = read_logs(container, **kw)
    return CUT + text if cut else text


def raise_if_exited(container, image: str, what: str) -> None:
    if container.status not in ("exited", "dead"):
        return
    code = container.attrs["State"].get("ExitCode")
    logs = _logs(container)
    hint = exec_hint(logs, "read its logs: the program failed at start.")
    raise ContainerFailed(f"The server in {image} exited (code {code}) before it answered HTTP.",
                          command=what, exit_code=code, log_tail=logs, hint=hint)


def wait_ready(handle: LiveServer, image: str, ready_path: str, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    reached = False          # did anything answer TCP at the published address?
    while True:
        handle._container.reload()
        raise_if_exited(handle._container, image, what)
        try:
            handle.get(ready_path, timeout=1)
            return
        except HttpFailed as exc:
            reached = reached or not ("connection broke" in exc.message or "no answer" in exc.message)
        if time.monotonic() > deadline:
            hint = ("check the port it listens on (port=) and its logs; pass a larger timeout= if it starts slowly."
                    if reached else _unreached_hint(handle.info["url"]))
            raise ServerNotReady(f"The server in {image} did not answer {ready_path} at {handle.info['url']} "
                                 f"within {timeout} s; the container was removed.", command=what,
                                 log_tail=_logs(handle._container), hint=hint)
        time.sleep(0.2)


def _unreached_hint(url: str) -> str:
    return (f"nothing answered at {url}, though the container is running. If the engine publishes its ports "
            f"somewhere other than this address (an engine in another network namespace or VM, or a remote "
            f"one), set LABUTILS_HOST_OVERRIDE to the host where they are reached; otherwise check the port "
            f"the server listens on (port=) and its logs, or pass a larger timeout= if it starts slowly.")

