"""What several test files share: where the repository is, and the skip-or-fail rule for CI."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import socket
import sys
import tarfile
from pathlib import Path

import pytest

from labutils.backends.live import buildkit
from labutils.util import tar_bytes

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "data" / "exercises"


def engine_required() -> bool:
    """CI sets LABUTILS_REQUIRE_ENGINE=1: there a missing engine (or browser) fails instead of skipping."""
    return os.environ.get("LABUTILS_REQUIRE_ENGINE") == "1"


def skip_or_fail(why: str):
    if engine_required():
        pytest.fail(f"LABUTILS_REQUIRE_ENGINE=1 but {why}")
    pytest.skip(why)


def _write(folder, **files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".")).write_text(text)
    return folder


def _need_buildkit():
    if buildkit.cli() is None:
        skip_or_fail("no docker CLI that builds with BuildKit (CI installs Debian's docker.io, whose 20.10 "
                     "client does)")


def _to_oci(legacy, out, gz_every_other=True):
    """Rewrite a legacy `docker save` archive in the OCI layout of Docker 25+, gzipping some layers."""
    with tarfile.open(legacy) as src:
        manifest = json.load(src.extractfile("manifest.json"))[0]
        blobs, layers = {}, []
        for i, name in enumerate(manifest["Layers"]):
            data = src.extractfile(name).read()
            if gz_every_other and i % 2 and data[:2] != b"\x1f\x8b":      # (an OCI save may be gzipped already)
                data = gzip.compress(data, mtime=0)
            digest = "blobs/sha256/" + hashlib.sha256(data).hexdigest()
            blobs[digest] = data
            layers.append(digest)
        config = src.extractfile(manifest["Config"]).read()
        cname = "blobs/sha256/" + hashlib.sha256(config).hexdigest()
        blobs[cname] = config
    blobs["manifest.json"] = json.dumps([{"Config": cname, "RepoTags": manifest["RepoTags"], "Layers": layers}]).encode()
    blobs["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    blobs["index.json"] = b'{"schemaVersion":2,"manifests":[]}'
    out.write_bytes(tar_bytes(blobs))


def small_base() -> str:
    """A small image with a shell: alpine:latest where the engine has it or can pull it, else its stand-in."""
    from labutils import bases
    return bases.resolve("alpine:latest", quiet=True).used


def golang_base() -> str:
    """The lab's Go image as this engine has it: golang:1.15.6 (local or pulled), else its stand-in."""
    from labutils import bases
    return bases.resolve("golang:1.15.6", quiet=True).used


class EngineProxy:
    """The real engine behind a socket of our own, so a test can take it away and bring it back."""

    def __init__(self, path: Path, target: str | None = None):
        """Forward `path` to `target` (unix:// or tcp://), by default the engine this test session uses."""
        import socketserver
        import threading
        from urllib.parse import urlsplit

        from labutils.backends.live import engine
        self.target = target or engine.engine_url()
        url = urlsplit(self.target)
        assert url.path != str(path), "the proxy must not forward to itself: make it before setting DOCKER_HOST"
        outer = self

        def connect():
            import socket as s
            if url.scheme == "unix":
                upstream = s.socket(s.AF_UNIX, s.SOCK_STREAM)
                upstream.connect(url.path)
            else:
                upstream = s.create_connection((url.hostname, url.port or 2375))
            return upstream

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self):
                import select
                upstream = connect()
                outer.open.append(self.request)
                pair = {self.request: upstream, upstream: self.request}
                try:
                    while True:
                        ready, _, _ = select.select(list(pair), [], [], 0.5)
                        for sock in ready:
                            data = sock.recv(65536)
                            if not data:
                                return
                            pair[sock].sendall(data)
                except OSError:
                    return
                finally:
                    upstream.close()

        self.path, self.open = path, []
        server_class = type("Server", (socketserver.ThreadingUnixStreamServer,),
                            {"daemon_threads": True, "block_on_close": False})
        self.server = server_class(str(path), Pipe)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def again(self) -> EngineProxy:
        """The same engine back behind the same socket, after stop()."""
        return EngineProxy(self.path, self.target)

    def stop(self):
        import socket as s
        for conn in self.open:
            try:
                conn.shutdown(s.SHUT_RDWR)
            except OSError:
                pass
        self.server.shutdown()
        self.server.server_close()
        self.path.unlink(missing_ok=True)


# --- shared by the browser, class and fault tests ---------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or "")
                 if p and Path(p).is_file()), None)


def run_in_page(page, path: str) -> str:
    """Every cell of the notebook open at ``path``, run through JupyterLab's own command; all outputs as text.

    The results are read from the notebook's model: JupyterLab draws only the cells in view.
    """
    page.wait_for_selector(".jp-Notebook", timeout=180_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           f" && window.jupyterapp.shell.currentWidget.context.path === {path!r}"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel", timeout=180_000)
    count = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.cells.length")
    page.evaluate("() => { const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = 0; }")
    for i in range(count):
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell-and-select-next')")
        page.wait_for_function(f"""() => {{
            const m = window.jupyterapp.shell.currentWidget.content.model.cells.get({i});
            const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel;
            return m.type !== 'code' || (m.executionCount !== null && kernel && !kernel.status.startsWith('busy'));
        }}""", timeout=600_000)
    return page.evaluate("""() => {
        const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
        const out = [];
        for (let i = 0; i < cells.length; i++) {
            const c = cells.get(i);
            if (c.type === 'code') out.push(JSON.stringify(c.outputs.toJSON()));
        }
        return out.join('\\n');
    }""")


def password(name: str) -> str:
    return f"{name}-own-secret-9"


def class_env(name: str, state, code: str) -> dict:
    """A test class's settings: its own name, state folder and free ports, so no other class is touched."""
    env = dict(os.environ, CLASS_NAME=name, CLASS_STATE=str(state), CLASS_PORT=str(free_port()),
               CLASS_HUB_PORT=str(free_port()), CLASS_PROXY_API_PORT=str(free_port()),
               CLASS_REGISTRY_PORT=str(free_port()), CLASS_CODE=code, CLASS_CPUS="1", CLASS_MEMORY="3g", CLASS_DISK="8g",
               CLASS_IDLE_TIMEOUT="3600")
    for key in ("LABUTILS_NAMESPACE", "LABUTILS_WORK", "DOCKER_CONTEXT"):
        env.pop(key, None)
    return env


class Opened:
    """Every file the process opens under ``root`` while it is armed (a Python audit hook; hooks stay for life)."""
    _hooked: list[Opened] = []

    def __init__(self, root: Path):
        self.root, self.seen, self.armed = str(root), [], False
        if not Opened._hooked:
            sys.addaudithook(lambda event, args: Opened._dispatch(event, args))
        Opened._hooked.append(self)

    @staticmethod
    def _dispatch(event, args):
        if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path = os.fsdecode(args[0])
        for o in Opened._hooked:
            if o.armed and os.path.realpath(path).startswith(o.root):
                o.seen.append(path)

    def __enter__(self):
        self.armed = True
        return self

    def __exit__(self, *exc):
        self.armed = False
        Opened._hooked.remove(self)


def context_of(tmp_path: Path) -> tuple[Path, Path]:
    """A build context beside a folder it must never read: a link out of it, ignored files, a sub-folder."""
    ctx, outside = tmp_path / "ctx", tmp_path / "outside"
    (ctx / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("not the build's\n")
    (ctx / "a.txt").write_text("a\n")
    (ctx / "sub" / "b.txt").write_text("b\n")
    (ctx / "notes.md").write_text("ignored\n")
    (ctx / ".dockerignore").write_text("*.md\n")
    (ctx / "out").symlink_to(outside)
    (ctx / "secret-link").symlink_to(outside / "secret.txt")
    return ctx, outside
