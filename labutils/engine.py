"""Finding the Docker Engine and talking to it.

Discovery follows Docker's own order: ``DOCKER_HOST`` first, then the current
Docker context (``DOCKER_CONTEXT`` or ``currentContext`` in ``~/.docker/config.json``),
then the default socket. The API version is negotiated with the engine, never
pinned: old engines (API 1.41) and new ones (which refuse clients below 1.44)
both work.
"""
from __future__ import annotations

import json
import os
import re
import socket
import shutil
import sys
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import docker
from docker.errors import DockerException

from .errors import EngineUnavailable

LABEL = "io.labutils.managed"
"""The one label every image and container labutils creates carries."""

LABELS = {LABEL: "true"}

NAMESPACE_LABEL = "io.labutils.namespace"
PID_LABEL = "io.labutils.pid"
HOST_LABEL = "io.labutils.host"
_NAMESPACE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def namespace() -> str:
    """LABUTILS_NAMESPACE: a learner's own prefix on a shared engine ('' when unset)."""
    ns = os.environ.get("LABUTILS_NAMESPACE", "").strip()
    if ns and not _NAMESPACE.match(ns):
        raise EngineUnavailable(f"LABUTILS_NAMESPACE={ns!r} cannot prefix an image name.",
                                hint="use lowercase letters and digits, separated by single '.', '_' or '-' (e.g. 'alice').")
    return ns


def labels() -> dict:
    """The labels of everything labutils makes: managed, and the namespace when one is set."""
    ns = namespace()
    return {LABEL: "true", **({NAMESPACE_LABEL: ns} if ns else {})}


def ref(name: str) -> str:
    """The engine's name for a lab image: ``welcome:v1``, or ``alice/welcome:v1`` in namespace alice."""
    ns = namespace()
    return f"{ns}/{name}" if ns and not name.startswith(ns + "/") else name


def plain(name: str) -> str:
    """The lab's name for an engine image name: the namespace prefix taken off."""
    ns = namespace()
    return name[len(ns) + 1:] if ns and name.startswith(ns + "/") else name


def mine(attrs_labels: dict | None) -> bool:
    """True for a labelled object of this namespace (no namespace: only objects without one)."""
    found = attrs_labels or {}
    return found.get(LABEL) == "true" and found.get(NAMESPACE_LABEL, "") == namespace()

# Builds stream nothing while a long RUN step works; the read timeout must
# outlast the slowest step (an apt-get install on a slow mirror).
READ_TIMEOUT = 900
PROBE_TIMEOUT = 5

_NO_ENGINE_HINT = ("start Docker (e.g. `sudo dockerd &` or Docker Desktop), or set "
                   "DOCKER_HOST to an engine that runs, or use recorded mode "
                   "(LABUTILS_MODE=recorded) where no engine can run.")


def mode() -> str:
    """``live`` or ``recorded``.

    LABUTILS_MODE forces one. Unset (or ``auto``): live when an engine answers,
    else recorded when a recording is there (said once, on stderr), else live,
    so that the first call fails with what to do.
    """
    wanted = os.environ.get("LABUTILS_MODE", "auto").strip().lower() or "auto"
    if wanted not in {"live", "recorded", "auto"}:
        raise EngineUnavailable(
            f"LABUTILS_MODE={wanted!r} is not a mode labutils knows.",
            hint="set LABUTILS_MODE to 'live', 'recorded' or 'auto', or unset it.")
    return _auto_mode(engine_url()) if wanted == "auto" else wanted


@lru_cache(maxsize=None)
def _auto_mode(url: str) -> str:
    try:
        _client_for(url, os.environ.get("DOCKER_TLS_VERIFY", ""), PROBE_TIMEOUT).ping()
        return "live"
    except (DockerException, OSError):
        _client_for.cache_clear()
    from . import recording
    if not recording.available():
        return "live"
    print(f"[labutils] No Docker Engine answered at {url}: labutils answers from the recording in "
          f"{recording.directory()} ({recording.replay().label}). Start an engine and restart the "
          "kernel to work live.", file=sys.stderr, flush=True)
    return "recorded"


def _current_context() -> str | None:
    name = os.environ.get("DOCKER_CONTEXT")
    if name:
        return name
    config_dir = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    try:
        name = json.loads((config_dir / "config.json").read_text()).get("currentContext")
    except (OSError, ValueError):
        return None
    return name or None


def engine_url() -> str:
    """Where labutils will look for the engine, as Docker would."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    name = _current_context()
    if name and name != "default":
        from docker.context import ContextAPI
        ctx = ContextAPI.get_context(name)
        if ctx is None:
            raise EngineUnavailable(
                f"The Docker context {name!r} does not exist.",
                hint="run `docker context ls` and `docker context use default`, "
                     "or unset DOCKER_CONTEXT.")
        return ctx.Host
    return "unix:///var/run/docker.sock"


@lru_cache(maxsize=None)
def _client_for(url: str, tls_key: str, timeout: int = READ_TIMEOUT) -> docker.DockerClient:
    if os.environ.get("DOCKER_HOST"):
        return docker.from_env(timeout=timeout)  # honours DOCKER_TLS_VERIFY/CERT_PATH
    name = _current_context()
    if name and name != "default":
        from docker.context import ContextAPI
        ctx = ContextAPI.get_context(name)
        return docker.DockerClient(base_url=ctx.Host, tls=ctx.TLSConfig or False, timeout=timeout)
    return docker.DockerClient(base_url=url, timeout=timeout)


def client() -> docker.DockerClient:
    """A connected client; raises EngineUnavailable with what to do."""
    if mode() == "recorded":
        raise EngineUnavailable(
            "labutils is in recorded mode, so it does not talk to an engine, and this call "
            "needs one: the recording cannot answer it.",
            hint="run it where a Docker Engine answers (LABUTILS_MODE=live), or use the calls "
                 "the notebooks make, which the recording holds.")
    url = engine_url()
    tls = os.environ.get("DOCKER_TLS_VERIFY", "")
    if _in_operation and url in _answered:
        return _client_for(url, tls)          # pinged when this operation began: spare the round trips
    try:
        cli = _client_for(url, tls)
        cli.ping()
    except (DockerException, OSError) as exc:
        _client_for.cache_clear()
        _answered.pop(url, None)
        raise EngineUnavailable(f"No Docker Engine answered at {url}.",
                                engine_said=_short(exc), hint=_NO_ENGINE_HINT) from None
    _answered[url] = time.monotonic()
    if (url, namespace()) not in _reaped:
        _reaped.add((url, namespace()))
        reap_orphans(cli)
    return cli


_reaped: set = set()
_answered: dict = {}     # engine address -> when it last answered a ping
_in_operation = 0


@contextmanager
def operation():
    """One labutils call (a build): ping the engine once at its start, not before every request."""
    global _in_operation
    client()
    _in_operation += 1
    try:
        yield
    finally:
        _in_operation -= 1


def reap_orphans(cli) -> list[str]:
    """Remove this namespace's containers whose labutils process died (a killed kernel, say).

    Only containers made on this host, by a process that no longer exists, are touched.
    """
    removed = []
    for c in cli.containers.list(all=True, ignore_removed=True, filters={"label": [LABEL, f"{HOST_LABEL}={socket.gethostname()}"]}):
        found = c.labels
        if not mine(found) or not found.get(PID_LABEL, "").isdigit():
            continue
        pid = int(found[PID_LABEL])
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            c.remove(force=True)
            removed.append(c.name)
        except DockerException:
            pass
    if removed:
        print(f"[labutils] removed {len(removed)} container(s) left by a labutils process that died: "
              f"{', '.join(removed)}", file=sys.stderr, flush=True)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def api():
    """The low-level APIClient (streaming builds, archives)."""
    return client().api


def version() -> dict:
    """The engine's version answer: Version, ApiVersion, Os, Arch."""
    return client().version()


_versions: dict = {}


def version_cached() -> dict:
    """``version()``, asked once per engine address (the results log writes it on every row)."""
    url = engine_url()
    if url not in _versions:
        _versions[url] = version()
    return _versions[url]


def docker_cli() -> str | None:
    """Path of a ``docker`` command-line client, if one is installed."""
    return shutil.which("docker")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
