"""Finding the Docker Engine and naming what labutils puts on it.

Discovery follows Docker's own order: ``DOCKER_HOST`` first, then the current
Docker context (``DOCKER_CONTEXT`` or ``currentContext`` in ``~/.docker/config.json``),
then the default socket. The API version is negotiated with the engine, never
pinned: old engines (API 1.41) and new ones (which refuse clients below 1.44)
both work. Only the live backend (``live.py``) talks to the client made here.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import sys
import time
from functools import cache, wraps
from pathlib import Path
from urllib.parse import urlsplit

import docker
import requests
import urllib3
from docker.errors import DockerException

from labutils.errors import EngineUnavailable
from labutils.names import HOST_LABEL, LABEL, PID_LABEL, mine, namespace
from labutils.settings import settings

# Builds stream nothing while a long RUN step works; the read timeout must
# outlast the slowest step (an apt-get install on a slow mirror).
READ_TIMEOUT = 900
PROBE_TIMEOUT = 5

NO_ENGINE_HINT = ("start Docker (e.g. `sudo dockerd &` or Docker Desktop), or set DOCKER_HOST to an engine "
                  "that runs, or use recorded mode (LABUTILS_MODE=recorded) where no engine can run.")


# --- where the engine is ----------------------------------------------------------

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


_context_tls: dict = {}     # a Docker context's host -> its TLS settings, noted by engine_url()


def engine_url() -> str:
    """Where labutils will look for the engine, as Docker would.

    Raises:
        EngineUnavailable: the current Docker context does not exist.
    """
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    name = _current_context()
    if name and name != "default":
        from docker.context import ContextAPI
        ctx = ContextAPI.get_context(name)
        if ctx is None:
            raise EngineUnavailable(f"The Docker context {name!r} does not exist.",
                                    hint="run `docker context ls` and `docker context use default`, "
                                         "or unset DOCKER_CONTEXT.")
        _context_tls[ctx.Host] = ctx.TLSConfig or False
        return ctx.Host
    return "unix:///var/run/docker.sock"


LOOPBACK = ("127.0.0.1", "localhost", "::1", "")


def published_host() -> str:
    """Where the host reaches a port the engine publishes.

    LABUTILS_HOST_OVERRIDE when set (as testcontainers' host override: an engine in
    another network namespace or VM); else the host of a ``tcp://`` or ``ssh://``
    engine address (DOCKER_HOST, or the current Docker context's); else 127.0.0.1 (a local engine).
    """
    override = settings().host_override
    if override:
        return override
    try:
        host = engine_url()                  # DOCKER_HOST, else the current Docker context's host
    except EngineUnavailable:
        host = ""
    if host.startswith(("tcp://", "ssh://", "http://", "https://")):
        name = urlsplit(host).hostname or ""
        if name not in LOOPBACK:
            return name
    return "127.0.0.1"


def binds_loopback() -> bool:
    """True when the engine is local, so published ports are bound to 127.0.0.1 only."""
    return published_host() in LOOPBACK


def cli_host() -> str:
    """The engine address in the form the docker CLI takes (for build.sh and BuildKit builds)."""
    return engine_url().replace("http+unix://", "unix://")


@cache
def _client_for(url: str, tls_key: str, timeout: int = READ_TIMEOUT) -> docker.DockerClient:
    """A client of ``url`` (from ``engine_url()``, which also noted a Docker context's TLS settings)."""
    if os.environ.get("DOCKER_HOST"):
        return docker.from_env(timeout=timeout)  # honours DOCKER_TLS_VERIFY/CERT_PATH
    return docker.DockerClient(base_url=url, tls=_context_tls.get(url, False), timeout=timeout)


_answered: dict = {}     # engine address -> when it last answered a ping
_pending: list = []      # containers whose removal failed because the engine went away


def remove_later(container_id: str) -> None:
    """Remove this container at the next call that reaches the engine (its removal failed: the engine was gone)."""
    _pending.append(container_id)
_reaped: set = set()
_versions: dict = {}


def client(*, fresh: bool = True) -> docker.DockerClient:
    """A connected client of the live engine.

    ``fresh=False`` skips the ping when this engine answered one in the last
    few seconds (one ping per build, not one per request).

    Raises:
        EngineUnavailable: no engine answered; says how to start one or use recorded mode.
    """
    url = engine_url()
    tls = os.environ.get("DOCKER_TLS_VERIFY", "")
    if not fresh and time.monotonic() - _answered.get(url, -1e9) < 30:
        return _client_for(url, tls)
    try:
        cli = _client_for(url, tls)
        cli.ping()
    except (DockerException, OSError) as exc:
        _client_for.cache_clear()
        _answered.pop(url, None)
        raise EngineUnavailable(f"No Docker Engine answered at {url}.", engine_said=short(exc),
                                hint=NO_ENGINE_HINT) from None
    _answered[url] = time.monotonic()
    while _pending:
        try:
            cli.api.remove_container(_pending[-1], force=True)
        except DockerException:
            pass
        _pending.pop()
    if (url, namespace()) not in _reaped:
        _reaped.add((url, namespace()))
        reap_orphans(cli)
    return cli


def version() -> dict:
    """The engine's version answer (Version, ApiVersion, Os, Arch), asked once per address.

    Raises:
        EngineUnavailable: no engine answered.
    """
    url = engine_url()
    if url not in _versions:
        _versions[url] = client(fresh=False).version()
    return _versions[url]


def answers() -> bool:
    """True when an engine answers a ping within a few seconds."""
    try:
        _client_for(engine_url(), os.environ.get("DOCKER_TLS_VERIFY", ""), PROBE_TIMEOUT).ping()
        return True
    except (DockerException, OSError, EngineUnavailable):
        _client_for.cache_clear()
        return False


# --- the engine lost in the middle of a call ------------------------------------------

LOST = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.ProtocolError, http.client.HTTPException, ConnectionError)
"""What docker-py, requests and urllib3 raise when the engine's connection breaks (not a read timeout)."""


def timed_out(exc: BaseException) -> bool:
    """True for a read that outlasted its timeout (the engine answered nothing in time, but is there)."""
    return isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower()


def lost(exc: BaseException, what: str) -> EngineUnavailable:
    """The error for an engine that went away during ``what``; forgets the cached client so the next call reconnects."""
    _client_for.cache_clear()
    _answered.clear()
    return EngineUnavailable(f"The Docker Engine at {engine_url()} went away during {what}.", engine_said=short(exc),
                             hint="start it again (or wait until it is back: `docker version` answers), then run "
                                  "this cell again. What labutils could remove of this call was removed.")


def guard(method):
    """Turn a broken engine connection inside ``method`` into ``EngineUnavailable`` (a read timeout stays as it is)."""
    @wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except LOST as exc:
            if timed_out(exc):
                raise
            raise lost(exc, f"{method.__name__}()") from None
    return wrapper


# --- live or recorded -----------------------------------------------------------------

def mode() -> str:
    """``live`` or ``recorded``.

    LABUTILS_MODE forces one. Unset (or ``auto``): live when an engine answers,
    else recorded when a recording is there (said once, on stderr), else live,
    so that the first call fails with what to do.

    Raises:
        EngineUnavailable: LABUTILS_MODE has a value labutils does not know.
    """
    s = settings()
    if s.mode != "auto":
        return s.mode
    return _auto_mode(engine_url(), str(s.recording))


@cache
def _auto_mode(url: str, recording: str) -> str:
    if answers():
        return "live"
    meta = Path(recording) / "meta.json"
    if not meta.is_file():
        return "live"
    print(f"[labutils] No Docker Engine answered at {url}: labutils answers from the recording in "
          f"{recording}. Start an engine and restart the kernel to work live.", file=sys.stderr, flush=True)
    return "recorded"


def reset_caches() -> None:
    """Forget every cached answer (engine clients, versions, the auto mode, loaded recordings).

    For tests and for a notebook whose engine was started after ``import labutils``.
    """
    _client_for.cache_clear()
    _auto_mode.cache_clear()
    _answered.clear()
    _reaped.clear()
    _versions.clear()
    for hook in _reset_hooks:
        hook()


_reset_hooks: list = []


def on_reset(hook):
    """Register a cache of another module for ``reset_caches()``; returns ``hook``."""
    _reset_hooks.append(hook)
    return hook


# --- leftovers of a killed kernel ---------------------------------------------------

def reap_orphans(cli) -> list[str]:
    """Remove this namespace's containers whose labutils process died (a killed kernel, say).

    Only containers made on this host, by a process that no longer exists, are touched.
    """
    removed = []
    wanted = {"label": [LABEL, f"{HOST_LABEL}={socket.gethostname()}"]}
    for c in cli.containers.list(all=True, ignore_removed=True, filters=wanted):
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


def docker_cli() -> str | None:
    """Path of a ``docker`` command-line client, if one is installed."""
    return shutil.which("docker")


def short(exc: BaseException) -> str:
    """The first line of an exception's text (what the engine said), at most 300 characters."""
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
