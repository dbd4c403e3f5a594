"""A served container as the live backend sees it: its URL, its answers, its readiness."""
from __future__ import annotations

import time

import requests
from docker.errors import APIError, NotFound

from .errors import ContainerFailed, ServerNotReady

EXEC_HINT = ("the program could not be started: a file it needs is missing. On scratch or alpine this usually "
             "means a dynamically linked binary (built with cgo against glibc): build it with CGO_ENABLED=0.")


class LiveServer:
    """A served container, seen from the host: ``get(path)`` and ``logs()``."""

    def __init__(self, container, url: str, host_port: int):
        self._container = container
        self.info = {"url": url, "host_port": host_port, "container_name": container.name}

    def get(self, path: str, timeout: float = 5) -> dict:
        url = self.info["url"].rstrip("/") + "/" + path.lstrip("/")
        resp = requests.get(url, timeout=timeout)
        return {"url": url, "status": resp.status_code, "body": resp.text}

    def logs(self) -> str:
        return _logs(self._container)


def _logs(container, **kw) -> str:
    try:
        return container.logs(**kw).decode("utf-8", "replace")
    except (NotFound, APIError):
        return ""


def raise_if_exited(container, image: str, what: str) -> None:
    if container.status not in ("exited", "dead"):
        return
    code = container.attrs["State"].get("ExitCode")
    logs = _logs(container)
    hint = EXEC_HINT if ("no such file or directory" in logs and "exec" in logs) else \
        "read its logs: the program failed at start."
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
        except (requests.ConnectionError, requests.Timeout):
            pass
        except requests.RequestException:
            reached = True
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

