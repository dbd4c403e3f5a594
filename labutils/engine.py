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
import shutil
import sys
from functools import lru_cache
from pathlib import Path

import docker
from docker.errors import DockerException

from .errors import EngineUnavailable

LABEL = "io.labutils.managed"
"""The one label every image and container labutils creates carries."""

LABELS = {LABEL: "true"}

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
    try:
        cli = _client_for(url, os.environ.get("DOCKER_TLS_VERIFY", ""))
        cli.ping()
    except (DockerException, OSError) as exc:
        _client_for.cache_clear()
        raise EngineUnavailable(f"No Docker Engine answered at {url}.",
                                engine_said=_short(exc), hint=_NO_ENGINE_HINT) from None
    return cli


def api():
    """The low-level APIClient (streaming builds, archives)."""
    return client().api


def version() -> dict:
    """The engine's version answer: Version, ApiVersion, Os, Arch."""
    return client().version()


def docker_cli() -> str | None:
    """Path of a ``docker`` command-line client, if one is installed."""
    return shutil.which("docker")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
