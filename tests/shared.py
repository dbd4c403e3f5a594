"""What several test files share: where the repository is, and the skip-or-fail rule for CI."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
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
