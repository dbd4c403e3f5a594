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
from contextlib import contextmanager
from pathlib import Path

import requests
from docker.errors import APIError, ImageNotFound as _DockerImageNotFound, NotFound

from . import archive, buildkit, classic, engine, stores
from .errors import ContainerFailed, ImageNotFound, LabError, PortInUse, RunTimeout
from .util import cmd_text
from .liveserve import EXEC_HINT, LiveServer, raise_if_exited, wait_ready



def image_summary(attrs: dict, sizes: dict) -> dict:
    """The few fields of ``docker image inspect`` that labutils uses, with the image's sizes.

    ``sizes`` comes from ``stores.sizes``: ``size`` is the unpacked size (the files,
    as the graph driver counts them and as the book's figures are); ``content``
    (compressed, what is pushed and pulled) and ``total`` (both, as ``docker images``
    shows on the containerd store) are None where the engine has no such size.
    """
    return {"id": attrs["Id"], **sizes,
            "diff_ids": list((attrs.get("RootFS") or {}).get("Layers") or []),
            "user": (attrs.get("Config") or {}).get("User") or "",
            "labels": (attrs.get("Config") or {}).get("Labels") or {}}


class Live:
    """Answers from the engine that ``engine.client()`` finds."""

    mode = "live"

    # --- about the engine -------------------------------------------------------
    def describe(self) -> dict:
        v = engine.version()
        return {"mode": "live", "engine_version": v.get("Version", ""), "api_version": v.get("ApiVersion", ""),
                "os_arch": f"{v.get('Os', '')}/{v.get('Arch', '')}", "label": ""}

    def has_buildkit(self) -> bool:
        return buildkit.cli() is not None

    def docker_cli(self) -> str | None:
        return engine.docker_cli()

    # --- images -------------------------------------------------------------------
    def _image(self, name: str):
        try:
            return engine.client(fresh=False).images.get(engine.ref(name))
        except _DockerImageNotFound:
            raise ImageNotFound(f"There is no image {name!r} on this engine.",
                                hint="build it first (run the build cell above), or check the tag's spelling.") from None

    def build(self, req: dict, on_line) -> dict:
        """One build (classic through the API, or BuildKit through a CLI); the raw log and the image."""
        engine.client()
        args = dict(context=req["context"], tag=engine.ref(req["tag"]), dockerfile=req["dockerfile"],
                    target=req["target"], nocache=req["nocache"], buildargs=req["buildargs"],
                    labels=req["labels"], on_line=on_line)
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
        return answer

    def inspect(self, tag: str) -> dict:
        image = self._image(tag)
        return image_summary(image.attrs, stores.sizes(engine.ref(tag), image.attrs))

    def exists(self, name: str) -> bool:
        """Whether the engine holds ``name`` exactly as given (no namespace applied)."""
        try:
            engine.client(fresh=False).images.get(name)
            return True
        except _DockerImageNotFound:
            return False

    def pull(self, name: str, quiet: bool = False) -> dict:
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

    def history(self, tag: str) -> list[dict]:
        return [{"created_by": (h.get("CreatedBy") or h.get("Comment") or "").replace("/bin/sh -c #(nop) ", "").strip(),
                 "bytes": h.get("Size", 0), "created": h.get("Created", 0)} for h in self._image(tag).history()]

    def images(self, tags: list, reference: str | None) -> list[dict]:
        """Rows of ``docker image ls``: the named tags, else this namespace's labelled images."""
        if tags:
            found = [(t, self._image(t)) for t in tags]
        else:
            filters = {"label": engine.LABEL, **({"reference": engine.ref(reference)} if reference else {})}
            found = [(engine.plain(name), img)
                     for img in engine.client().images.list(filters=filters) if engine.mine(img.labels)
                     for name in (img.tags or ["<none>:<none>"])]
        return [{"name": name, "id": img.id, "size": stores.sizes((img.tags or [img.id])[0], img.attrs)["size"]}
                for name, img in found]

    def lab_images(self) -> list[dict]:
        """Every labelled image on the engine, of every namespace: the instructor's class view reads only these."""
        rows = []
        for img in engine.client().images.list(filters={"label": engine.LABEL}):
            labels = img.labels or {}
            ns = labels.get(engine.NAMESPACE_LABEL, "")
            for name in img.tags or []:
                plain = name[len(ns) + 1:] if ns and name.startswith(ns + "/") else name
                rows.append({"namespace": ns, "name": plain, "id": img.id, "created": img.attrs.get("Created", ""),
                             "size": stores.sizes(name, img.attrs)["size"], "labels": dict(labels)})
        return rows

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
    def _create(self, image: str, purpose: str, **kwargs):
        ns = engine.namespace()
        name = f"labutils-{ns + '-' if ns else ''}{purpose}-{uuid.uuid4().hex[:8]}"
        try:
            return engine.client().containers.create(engine.ref(image), name=name, labels=engine.owner_labels(),
                                                     **kwargs)
        except _DockerImageNotFound:
            raise ImageNotFound(f"There is no image {image!r} on this engine.",
                                hint="build it first (run the build cell above), or check the tag.") from None
        except APIError as exc:
            raise ContainerFailed(f"The engine would not create a container from {image}.",
                                  engine_said=exc.explanation or str(exc),
                                  hint="check the image name and command.") from None

    def run(self, image: str, command, env: dict, timeout: float) -> dict:
        what = f"docker run --rm {image}" + (f" {cmd_text(command)}" if command else "")
        container = self._create(image, "run", command=command, environment=env)
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
            except requests.exceptions.RequestException:
                raise RunTimeout(f"The container from {image} was still running after {timeout} s and was stopped.",
                                 command=what, log_tail=_logs(container)[-2000:],
                                 hint="pass a larger timeout=, or check that the program ends by itself.") from None
            return {"exit_code": status["StatusCode"], "stdout": _logs(container, stdout=True, stderr=False),
                    "stderr": _logs(container, stdout=False, stderr=True),
                    "seconds": round(time.perf_counter() - start, 3)}
        finally:
            _remove(container)

    @contextmanager
    def serve(self, image: str, port: int, env: dict, ready_path: str, timeout: float, host_port):
        where = engine.published_host()
        bind = "127.0.0.1" if engine.binds_loopback() else "0.0.0.0"    # a remote engine publishes on its host
        what = f"docker run -d -p {bind}:{host_port or ''}:{port} {image}"
        container = self._create(image, "serve", environment=env, ports={f"{port}/tcp": (bind, host_port)})
        try:
            try:
                container.start()
            except APIError as exc:
                said = exc.explanation or str(exc)
                if "port is already allocated" in said or "address already in use" in said:
                    raise PortInUse(f"Host port {host_port} on {bind} is already taken.", command=what,
                                    engine_said=said, hint="stop what uses it, or leave host_port unset so the "
                                                           "engine picks a free one.") from None
                hint = EXEC_HINT if ("no such file or directory" in said and "exec" in said) else \
                    "check the image's ENTRYPOINT/CMD and that the program exists in the image."
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
            yield handle
        finally:
            _remove(container)

    @contextmanager
    def _archive(self, image: str, path: str, purpose: str, command: str):
        container = self._create(image, purpose)
        try:
            try:
                stream, stat = container.get_archive(path)
            except NotFound:
                raise LabError(f"There is no {path} in the image {image}.", command=command,
                               hint="check the path the build wrote its output to (WORKDIR, go build -o, "
                                    "COPY destination).") from None
            yield stream, stat
        finally:
            _remove(container)

    def copy_out(self, image: str, path: str) -> dict:
        with self._archive(image, path, "copy", f"docker container cp <container>:{path} <dest>") as (stream, _):
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = next(m for m in tar.getmembers() if m.isfile())
                return {"name": Path(member.name).name, "mode": member.mode & 0o777,
                        "data": tar.extractfile(member).read()}

    def stat(self, image: str, path: str) -> dict:
        """A file's size in an image, from the archive header only (nothing is copied)."""
        with self._archive(image, path, "stat", f"docker container cp <container>:{path}") as (stream, stat):
            close = getattr(stream, "close", None)
            if close:
                close()
            return {"size": int(stat["size"])}

    def containers(self) -> list[dict]:
        return [{"name": c.name, "image": engine.plain((c.image.tags or [c.image.short_id])[0]), "status": c.status}
                for c in engine.client().containers.list(all=True, ignore_removed=True,
                                                         filters={"label": engine.LABEL})
                if engine.mine(c.labels)]

    def remove(self, dry_run: bool, everyone: bool) -> list[dict]:
        """Remove labelled containers and images (this namespace's, or ``everyone``'s)."""
        cli = engine.client()
        rows = []
        for c in cli.containers.list(all=True, ignore_removed=True, filters={"label": engine.LABEL}):
            if everyone or engine.mine(c.labels):
                rows.append({"kind": "container", "name": c.name, "id": c.short_id, "removed": not dry_run})
                if not dry_run:
                    _remove(c)
        for img in cli.images.list(filters={"label": engine.LABEL}):
            if not (everyone or engine.mine(img.labels)):
                continue
            rows.append({"kind": "image", "name": ", ".join(img.tags) or "<none>",
                         "id": img.short_id.split(":")[1], "removed": not dry_run})
            if dry_run:
                continue
            try:
                for t in img.tags or [img.id]:
                    cli.images.remove(t, noprune=False)
            except NotFound:
                pass
            except APIError as exc:
                rows[-1].update(removed=False, note=engine.short(exc))
        return rows

    def run_script(self, folder: str, script: str, timeout: float, source: str | None = None) -> dict:
        """Run a shell script with the real docker CLI (the classic builder, as ``build()`` uses)."""
        engine.client()
        env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")
        env.setdefault("DOCKER_HOST", engine.cli_host())
        start = time.perf_counter()
        proc = subprocess.run(["sh", script], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
        return {"exit_code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
                "seconds": round(time.perf_counter() - start, 3)}

    # --- base images: making and moving them (live only) -------------------------------
    def import_rootfs(self, archive: str, name: str, changes: list[str]) -> None:
        repo, _, tag = name.rpartition(":")
        engine.client().api.import_image_from_file(archive, repository=repo, tag=tag, changes=changes)

    def save_images(self, names: list[str], path: Path) -> int:
        api = engine.client().api
        res = api._get(api._url("/images/get"), params={"names": names}, stream=True)
        api._raise_for_status(res)
        written = 0
        with open(path, "wb") as fh:
            for chunk in res.iter_content(chunk_size=1 << 20):
                fh.write(chunk)
                written += len(chunk)
        return written

    def load_images(self, path: Path) -> list[str]:
        loaded = []
        with open(path, "rb") as fh:
            for chunk in engine.client().api.load_image(fh):
                if "error" in chunk:
                    raise LabError(f"The engine could not load {path}.", engine_said=chunk["error"],
                                   hint="check free disk space, and that the kit was copied completely.")
                text = chunk.get("stream", "").strip()
                if text.startswith("Loaded image:"):
                    loaded.append(text.split(":", 1)[1].strip())
        return loaded


def _logs(container, **kw) -> str:
    try:
        return container.logs(**kw).decode("utf-8", "replace")
    except (NotFound, APIError):
        return ""


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except NotFound:
        pass
