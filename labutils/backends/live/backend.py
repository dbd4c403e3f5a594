"""The live backend: every conversation with a real Docker Engine, in one place.

Each method answers with plain data (dicts, lists, bytes), the same shapes the
recorded backend (``recorded.py``) replays, so the public functions above the
seam are written once. Names passed in are the lab's (``welcome:v1``); the
namespace prefix of a shared engine is applied here.
"""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import requests
from docker.errors import APIError, NotFound
from docker.errors import ImageNotFound as _DockerImageNotFound

from labutils import names, seam
from labutils.backends.live import buildkit, classic, engine, stores
from labutils.backends.live.images import ImageTransfers
from labutils.backends.live.serve import (
    CUT,
    LOG_CONFIG,
    LiveServer,
    _logs,
    exec_hint,
    raise_if_exited,
    read_logs,
    wait_ready,
)
from labutils.docker import archive, platforms
from labutils.errors import ContainerFailed, ImageNotFound, InvalidArgument, LabError, PortInUse, RunTimeout
from labutils.seam import (
    BuildAnswer,
    BuildRequest,
    ContainerRow,
    CopyAnswer,
    Description,
    HistoryRow,
    ImageInfo,
    PlatformRow,
    PullAnswer,
    RemovedRow,
    RunAnswer,
    StatAnswer,
)
from labutils.util import cmd_text


def _guarded(cls):
    """Every public method of the live backend: a broken engine connection is ``EngineUnavailable``."""
    for name, value in list(vars(cls).items()) + list(vars(ImageTransfers).items()):
        if callable(value) and not name.startswith("_") and name != "serve":
            setattr(cls, name, engine.guard(value))
    return cls


@seam.implements
@_guarded
class Live(ImageTransfers):
    """Answers from the engine that ``engine.client()`` finds."""

    mode = "live"

    # --- about the engine -------------------------------------------------------
    def describe(self) -> Description:
        v = engine.version()
        return {"mode": "live", "engine_version": v.get("Version", ""), "api_version": v.get("ApiVersion", ""),
                "os_arch": f"{v.get('Os', '')}/{v.get('Arch', '')}", "store": stores.image_store(),
                "emulates": platforms.emulated(), "label": ""}

    def has_buildkit(self) -> bool:
        return buildkit.cli() is not None

    def docker_cli(self) -> str | None:
        return engine.docker_cli()

    # --- images -------------------------------------------------------------------
    def _image(self, name: str):
        try:
            return engine.client(fresh=False).images.get(names.ref(name))
        except _DockerImageNotFound:
            raise ImageNotFound(f"There is no image {name!r} on this engine.",
                                hint="build it first (run the build cell above), or check the tag's spelling.") from None

    def build(self, req: BuildRequest, on_line: Callable[[str, float], None]) -> BuildAnswer:
        """One build (classic through the API, or BuildKit through a CLI); the raw log and the image."""
        engine.client()
        args: dict[str, Any] = dict(context=req["context"], tag=names.ref(req["tag"]), dockerfile=req["dockerfile"],
                                    target=req["target"], nocache=req["nocache"], buildargs=req["buildargs"],
                                    labels=req["labels"], platform=req.get("platform"), on_line=on_line)
        if req["builder"] == "buildkit":
            exe = buildkit.cli()
            if exe is None:
                raise LabError("No docker command-line client here can build with BuildKit.",
                               hint="install Debian's docker.io (its 20.10 client builds with BuildKit when "
                                    "DOCKER_BUILDKIT=1) or the buildx plugin; or build with builder='classic'.")
            answer = buildkit.run(exe, host=engine.cli_host(), **args)
        else:
            answer = classic.stream(engine.client(fresh=False).api, **args)
        answer["image"] = None if answer["error"] else self.inspect(req["tag"])
        return cast(BuildAnswer, answer)

    def inspect(self, tag: str) -> ImageInfo:
        image, rows = self._platforms(tag)
        return stores.image_summary(image.attrs, stores.sizes(names.ref(tag), image.attrs, rows))

    def image_platforms(self, tag: str) -> list[PlatformRow]:
        return self._platforms(tag)[1]

    def _platforms(self, tag: str):
        """The image and its platform rows, every platform of it that is here unpacked first: the containerd
        store unpacks another platform's layers only when a container of it is created, and its unpacked size
        is unknown until then."""
        image = self._image(tag)
        rows = stores.platform_rows(names.ref(tag), image.attrs)
        packed = [r["platform"] for r in rows if stores.packed(r)]
        for platform in packed:
            _remove(self._create(tag, "unpack", platform, command=["true"]))   # created, never started
        return image, (stores.platform_rows(names.ref(tag), image.attrs) if packed else rows)

    def exists(self, name: str) -> bool:
        """Whether the engine holds ``name`` exactly as given (no namespace applied)."""
        try:
            engine.client(fresh=False).images.get(name)
            return True
        except _DockerImageNotFound:
            return False

    def pull(self, name: str, quiet: bool = False) -> PullAnswer:
        """Pull with progress; ``{"ok": False, "why": ...}`` when no registry answers."""
        try:
            last = None
            for chunk in engine.client(fresh=False).api.pull(name, stream=True, decode=True):
                if "error" in chunk:
                    raise APIError(chunk["error"])
                line = " ".join(str(chunk.get(k, "")) for k in ("id", "status", "progress")).strip()
                if not quiet and line and line != last:
                    print(line, flush=True)
                    last = line
            return {"ok": True, "why": ""}
        except APIError as exc:
            return {"ok": False, "why": engine.short(exc)}

    def history(self, tag: str) -> list[HistoryRow]:
        return [{"created_by": (h.get("CreatedBy") or h.get("Comment") or "").replace("/bin/sh -c #(nop) ", "").strip(),
                 "bytes": h.get("Size", 0), "created": h.get("Created", 0)} for h in self._image(tag).history()]

    def save(self, tag: str) -> dict:
        """``docker save`` of one image, read into a listing (``archive.read_archive``)."""
        image = self._image(tag)
        with tempfile.TemporaryDirectory(prefix="labutils-save-") as tmp:
            path = Path(tmp) / "image.tar"
            with open(path, "wb") as fh:
                for chunk in image.save(named=True):
                    fh.write(chunk)
            return archive.read_archive(path)

    # --- containers -----------------------------------------------------------------
    def _create(self, image: str, purpose: str, platform: str | None = None, **kwargs):
        ns = names.namespace()
        if platform:
            kwargs["platform"] = platform
        name = f"labutils-{ns + '-' if ns else ''}{purpose}-{uuid.uuid4().hex[:8]}"
        try:
            return engine.client().containers.create(names.ref(image), name=name, labels=names.owner_labels(),
                                                     log_config=LOG_CONFIG, **kwargs)
        except APIError as exc:
            # the graph driver answers 404 ("does not match the specified platform"), containerd 500 ("does not
            # provide the specified platform"): either way the image is here, for another platform
            if platform and "specified platform" in (exc.explanation or ""):
                raise InvalidArgument(f"{image} holds no {platform} image.", engine_said=exc.explanation,
                                      hint=f"build it for {platform} (build(..., platform={platform!r})), or run it "
                                           "without platform= as the platform it was built for.") from None
            if isinstance(exc, _DockerImageNotFound):
                raise ImageNotFound(f"There is no image {image!r} on this engine.",
                                    hint="build it first (run the build cell above), or check the tag.") from None
            raise ContainerFailed(f"The engine would not create a container from {image}.",
                                  engine_said=exc.explanation or str(exc),
                                  hint="check the image name and command.") from None

    def run(self, image: str, command: Sequence[str] | str | None, env: dict[str, str], timeout: float,
            platform: str | None = None) -> RunAnswer:
        what = f"docker run --rm{f' --platform {platform}' if platform else ''} {image}" + \
            (f" {cmd_text(command)}" if command else "")
        container = self._create(image, "run", platform, command=command, environment=env)
        start = time.perf_counter()
        try:
            try:
                container.start()
            except APIError as exc:
                # runc refuses to exec a missing program; report it as `docker run` does (exit 127)
                return {"exit_code": 127, "stdout": "", "stderr": (exc.explanation or str(exc)) + "\n",
                        "seconds": round(time.perf_counter() - start, 3)}
            try:
                status = container.wait(timeout=timeout)
            except engine.LOST + (requests.exceptions.Timeout,) as exc:
                if not engine.timed_out(exc):
                    raise engine.lost(exc, what) from None
                raise RunTimeout(f"The container from {image} was still running after {timeout} s and was stopped.",
                                 command=what, log_tail=_logs(container)[-2000:],
                                 hint="pass a larger timeout=, or check that the program ends by itself.") from None
            container.reload()                       # LogPath, for read_logs to see a rotated log
            out, cut_out = read_logs(container, stdout=True, stderr=False)
            err, cut_err = read_logs(container, stdout=False, stderr=True)
            answer: RunAnswer = {"exit_code": status["StatusCode"], "stdout": CUT + out if cut_out else out,
                      "stderr": CUT + err if cut_err else err,
                      "seconds": round(time.perf_counter() - start, 3)}
            if cut_out or cut_err:
                answer["truncated"] = True
            return answer
        finally:
            _remove(container)

    @contextmanager
    def serve(self, image: str, port: int, env: dict[str, str], ready_path: str, timeout: float,
              host_port: int | None, platform: str | None = None) -> Iterator[LiveServer]:
        where = engine.published_host()
        bind = "127.0.0.1" if engine.binds_loopback() else "0.0.0.0"    # a remote engine publishes on its host
        what = f"docker run -d -p {bind}:{host_port or ''}:{port} {image}"
        try:
            container = self._create(image, "serve", platform, environment=env,
                                     ports={f"{port}/tcp": (bind, host_port)})
        except engine.LOST as exc:
            raise engine.lost(exc, what) from None
        try:
            try:
                container.start()
            except APIError as exc:
                said = exc.explanation or str(exc)
                if "port is already allocated" in said or "address already in use" in said:
                    raise PortInUse(f"Host port {host_port} on {bind} is already taken.", command=what,
                                    engine_said=said, hint="stop what uses it, or leave host_port unset so the "
                                                           "engine picks a free one.") from None
                hint = exec_hint(said, "check the image's ENTRYPOINT/CMD and that the program exists in the image.")
                raise ContainerFailed(f"The container from {image} could not start.", command=what,
                                      engine_said=said, log_tail=_logs(container), hint=hint) from None
            container.reload()
            raise_if_exited(container, image, what)
            bound = container.attrs["NetworkSettings"]["Ports"].get(f"{port}/tcp") or []
            if not bound:
                raise ContainerFailed(f"The container from {image} published no port {port}.", command=what,
                                      log_tail=_logs(container), hint="check the port the server listens on.")
            url_host = f"[{where}]" if ":" in where else where
            handle = LiveServer(container, f"http://{url_host}:{bound[0]['HostPort']}", int(bound[0]["HostPort"]))
            started = time.perf_counter()
            wait_ready(handle, image, ready_path, timeout, what)
            handle.info["seconds"] = round(time.perf_counter() - started, 3)
        except engine.LOST as exc:
            _remove(container)
            raise engine.lost(exc, what) from None
        except BaseException:
            _remove(container)
            raise
        try:
            yield handle
        finally:
            _remove(container)

    @contextmanager
    def _archive(self, image: str, path: str, purpose: str, command: str, platform: str | None = None):
        container = self._create(image, purpose, platform)
        try:
            try:
                stream, stat = container.get_archive(path)
            except NotFound:
                raise InvalidArgument(f"There is no {path} in the image {image}.", command=command,
                               hint="check the path the build wrote its output to (WORKDIR, go build -o, "
                                    "COPY destination).") from None
            yield stream, stat
        finally:
            _remove(container)

    def copy_out(self, image: str, path: str, platform: str | None = None) -> CopyAnswer:
        with self._archive(image, path, "copy", f"docker container cp <container>:{path} <dest>",
                           platform) as (stream, _):
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = next(m for m in tar.getmembers() if m.isfile())
                data = tar.extractfile(member)
                assert data is not None, "a regular file's member has data"
                return {"name": Path(member.name).name, "mode": member.mode & 0o777, "data": data.read()}

    def stat(self, image: str, path: str, platform: str | None = None) -> StatAnswer:
        """A file's size in an image, from the archive header only (nothing is copied)."""
        with self._archive(image, path, "stat", f"docker container cp <container>:{path}", platform) as (stream, stat):
            close = getattr(stream, "close", None)
            if close:
                close()
            return {"size": int(stat["size"])}

    def containers(self) -> list[ContainerRow]:
        return [{"name": c.name, "image": names.plain((c.image.tags or [c.image.short_id])[0]), "status": c.status}
                for c in engine.client().containers.list(all=True, ignore_removed=True,
                                                         filters={"label": names.LABEL})
                if names.mine(c.labels)]

    def all_containers(self) -> list[ContainerRow]:
        # the image as the container was created from it (`docker ps`'s IMAGE): c.image fails for a removed image
        return [{"name": c.name, "image": (c.attrs.get("Config") or {}).get("Image") or c.attrs.get("Image", ""),
                 "status": c.status}
                for c in engine.client().containers.list(all=True, ignore_removed=True)]

    def tag(self, source: str, target: str) -> None:
        repo, _, version = target.rpartition(":")
        engine.client().images.get(source).tag(repo, version)

    def untag(self, name: str) -> None:
        engine.client().images.remove(name, noprune=True)

    def remove(self, dry_run: bool, everyone: bool) -> list[RemovedRow]:
        """Remove labelled containers and images (this namespace's, or ``everyone``'s)."""
        cli = engine.client()
        rows: list[RemovedRow] = []
        for c in cli.containers.list(all=True, ignore_removed=True, filters={"label": names.LABEL}):
            if everyone or names.mine(c.labels):
                rows.append({"kind": "container", "name": c.name, "id": c.short_id, "removed": not dry_run})
                if not dry_run:
                    _remove(c)
        for img in cli.images.list(filters={"label": names.LABEL}):
            labels = img.labels or {}
            ours = [t for t in img.tags if t == labels.get(names.REF_LABEL)]   # never a tag someone else gave it
            if not ours or not (everyone or names.mine(labels)):
                continue
            rows.append({"kind": "image", "name": ", ".join(ours), "id": img.short_id.split(":")[1],
                         "removed": not dry_run})
            if dry_run:
                continue
            try:
                for t in ours:
                    cli.images.remove(t, noprune=False)
            except NotFound:
                pass
            except APIError as exc:
                rows[-1].update({"removed": False, "note": engine.short(exc)})
        return rows

    def run_script(self, folder: str, script: str, timeout: float, source: str | None = None) -> RunAnswer:
        """Run a shell script with the real docker CLI (the classic builder, as ``build()`` uses)."""
        engine.client()
        env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")
        env.setdefault("DOCKER_HOST", engine.cli_host())
        start = time.perf_counter()
        proc = subprocess.run(["sh", script], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
        return {"exit_code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
                "seconds": round(time.perf_counter() - start, 3)}


def _remove(container) -> None:
    """Remove a container, best effort and quietly: already gone, or an engine that went away, is no error here."""
    try:
        container.remove(force=True)
    except (NotFound, APIError):
        pass
    except engine.LOST:
        engine.remove_later(container.id)       # the engine went away: removed when it answers again
