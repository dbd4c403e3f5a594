"""Recording: the live backend, with every answer also stored (``LABUTILS_RECORD``).

Each call's key, answer and printed output go to ``<notebook>.json`` (see
``recording.py``), under the notebook and cell that asked.
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labutils import seam
from labutils.backends.replay.recording import split, to_json
from labutils.docker import archive
from labutils.errors import LabError
from labutils.seam import Backend
from labutils.settings import settings

NO_PRINTED = {"build"}      # a build's printed output is its log, stored once in the answer


class _Tee(io.TextIOBase):
    def __init__(self, real):
        self.real, self.copy = real, io.StringIO()

    def write(self, text):
        self.copy.write(text)
        return self.real.write(text)

    def flush(self):
        self.real.flush()


def _cell() -> int | None:
    ip = sys.modules.get("IPython")
    shell = ip.get_ipython() if ip is not None else None
    return getattr(shell, "execution_count", None)


@seam.implements
class Recorder:
    """The live backend, with every answer also stored under ``LABUTILS_RECORD`` (the calls in ``seam.KEYS``)."""

    mode = "live"

    def __init__(self, live: Backend, path: Path):
        self.live, self.path = live, path

    def _store(self, call: str, key: dict, answer=None, printed: str = "", error: LabError | None = None):
        s = settings()
        notebook = s.notebook or "session"
        self.path.mkdir(parents=True, exist_ok=True)
        meta = self.path / "meta.json"
        if not meta.exists():
            d = self.live.describe()
            meta.write_text(json.dumps({"recorded": datetime.now(timezone.utc).date().isoformat(),
                                        "docker_version": d["engine_version"], "api_version": d["api_version"],
                                        "os_arch": d["os_arch"], "store": d["store"], "emulates": d["emulates"],
                                        "builder": "classic"}, indent=1) + "\n")
        book = self.path / f"{notebook}.json"
        vol_book = self.path / "volatile" / f"{notebook}.json"
        stable: dict[str, Any] = json.loads(book.read_text()) if book.exists() else {"notebook": notebook,
                                                                                    "entries": []}
        vol: dict[str, Any] = json.loads(vol_book.read_text()) if vol_book.exists() else {"notebook": notebook,
                                                                                         "values": {}}
        n = len(stable["entries"])
        values: list = []
        entry: dict[str, Any] = {"n": n, "notebook": notebook, "cell": _cell(), "call": call, "key": key}
        if error is not None:
            entry["error"] = {"type": type(error).__name__, **{k: v for k, v in vars(error).items()}}
        else:
            entry["answer"] = split(to_json(answer, self.path), values, "")
        if printed:
            entry["printed"] = split(printed, values, "printed")
        stable["entries"].append(entry)
        if values:
            vol["values"][str(n)] = values
        book.write_text(json.dumps(stable, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        vol_book.parent.mkdir(exist_ok=True)
        vol["values"] = dict(sorted(vol["values"].items(), key=lambda kv: int(kv[0])))
        vol_book.write_text(json.dumps(vol, indent=1, ensure_ascii=False) + "\n")

    def _call(self, call: str, *args, encode=lambda a: a):
        """``live.<call>(*args)``, its answer (or LabError) and printed output stored under its key."""
        key = seam.key(call, *args)
        tee = _Tee(sys.stdout)
        try:
            with contextlib.redirect_stdout(tee):
                answer = getattr(self.live, call)(*args)
        except LabError as exc:
            self._store(call, key, printed=tee.copy.getvalue(), error=exc)
            raise
        self._store(call, key, encode(answer), "" if call in NO_PRINTED else tee.copy.getvalue())
        return answer

    # -- recorded calls (seam.KEYS)
    def build(self, req, on_line):
        """Recorded when the request is replayable (a lab build, not a base image's)."""
        if not req["replayable"]:
            return self.live.build(req, on_line)
        return self._call("build", req, on_line)

    def inspect(self, tag):
        return self._call("inspect", tag)

    def image_platforms(self, tag):
        return self._call("image_platforms", tag)

    def exists(self, name):
        return self._call("exists", name)

    def pull(self, name, quiet=False):
        return self._call("pull", name, quiet)

    def history(self, tag):
        return self._call("history", tag)

    def images(self, tags, reference):
        return self._call("images", tags, reference)

    def save(self, tag):
        return self._call("save", tag, encode=archive.reduce)

    def run(self, image, command, env, timeout, platform=None):
        return self._call("run", image, command, env, timeout, platform)

    def copy_out(self, image, path, platform=None):
        return self._call("copy_out", image, path, platform)

    def stat(self, image, path, platform=None):
        return self._call("stat", image, path, platform)

    def containers(self):
        return self._call("containers")

    def all_containers(self):
        return self._call("all_containers")

    def run_script(self, folder, script, timeout, source=None):
        return self._call("run_script", folder, script, timeout, source)

    @contextlib.contextmanager
    def serve(self, image, port, env, ready_path, timeout, host_port, platform=None):
        """The live server, each GET noted; stored when the block ends."""
        key = seam.key("serve", image, port, env, ready_path, timeout, host_port, platform)
        with self.live.serve(image, port, env, ready_path, timeout, host_port, platform) as handle:
            watched = _WatchedServer(handle)
            try:
                yield watched
            finally:
                self._store("serve", key, {"info": handle.info, "logs": handle.logs(), "gets": watched.gets})

    # -- passed on unrecorded (seam.LIVE_ONLY says why)
    def describe(self):
        return self.live.describe()

    def has_buildkit(self):
        return self.live.has_buildkit()

    def docker_cli(self):
        return self.live.docker_cli()

    def lab_images(self):
        return self.live.lab_images()

    def remove(self, dry_run, everyone):
        return self.live.remove(dry_run, everyone)

    def import_rootfs(self, archive, name, changes):
        return self.live.import_rootfs(archive, name, changes)

    def tag(self, source, target):
        return self.live.tag(source, target)

    def untag(self, name):
        return self.live.untag(name)

    def save_images(self, names, path):
        return self.live.save_images(names, path)

    def load_images(self, path):
        return self.live.load_images(path)


class _WatchedServer:
    """A live server whose GETs are noted for the recording."""

    def __init__(self, handle):
        self.handle, self.info, self.gets = handle, handle.info, []

    def get(self, path, timeout=5):
        answer = self.handle.get(path, timeout)
        self.gets.append({"path": path, "answer": answer})
        return answer

    def logs(self):
        return self.handle.logs()


