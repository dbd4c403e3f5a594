"""What the engine matrix (tools/engines.py) checks beyond the lab: pulled bases win, remote engines serve.

These run against a rig engine: LABUTILS_RIG names it (``overlay2``, ``containerd``).
The host's engine has no registry and no TCP socket, so there they skip; `.ci/run`
runs them on the rig engines (``make test-engines``), where they must pass.
"""
from __future__ import annotations

import os

import pytest
from shared import _write, small_base

import labutils as lu
from labutils import bases
from labutils.backends.live import engine

pytestmark = pytest.mark.engine
T = "lutest-"


def _rig(*wanted: str) -> str:
    rig = os.environ.get("LABUTILS_RIG", "")
    if rig not in wanted:         # CI's engine matrix runs this on the engine(s) named
        pytest.skip(f"runs on the rig engine(s) {', '.join(wanted)} of tools/engines.py (make test-engines); "
                    f"this is {rig or 'not a rig engine'}")
    return rig


def test_a_pulled_base_is_used_as_itself(live, tmp_path, capsys):
    """On an engine with a registry, alpine:latest is pulled and built on, never replaced by a stand-in."""
    _rig("containerd")
    ref = "alpine:latest"
    if live.images.list(name="alpine"):
        live.images.remove(ref)                      # the mirror has it: make this build pull it
    assert not bases.exists(ref)
    folder = _write(tmp_path / "pulled", Dockerfile=f"FROM {ref}\nRUN echo pulled > /p\nCMD cat /p\n")
    result = lu.build(folder, T + "pulled:v1")
    out = capsys.readouterr().out
    assert result.substitutions == {}
    assert f"pulled {ref} from the registry" in out and "stand-in" not in out
    assert bases.exists(ref)
    assert lu.run(result.tag).stdout == "pulled\n"
    # what the test registry serves is labutils' stand-in, and it says so by its label
    assert bases.STANDIN_LABEL in live.images.get(ref).labels


def test_serve_reaches_a_tcp_docker_host(tmp_path, monkeypatch):
    """With DOCKER_HOST=tcp://<host>:2375 the published port is reached on <host>, not on 127.0.0.1."""
    _rig("containerd", "overlay2")
    tcp = os.environ["LABUTILS_RIG_TCP"]
    monkeypatch.setenv("DOCKER_HOST", tcp)
    monkeypatch.delenv("LABUTILS_HOST_OVERRIDE", raising=False)
    engine.reset_caches()
    try:
        host = tcp.split("//", 1)[1].rsplit(":", 1)[0]
        assert engine.published_host() == host and not engine.binds_loopback()
        folder = _write(tmp_path / "httpd", Dockerfile=f"FROM {small_base()}\n"
                        "RUN mkdir /www && echo served > /www/index.html\n"
                        'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n')
        built = lu.build(folder, T + "httpd:v1", quiet=True)
        with lu.serve(built.tag, port=8080) as server:
            assert server.url.startswith(f"http://{host}:")
            assert server.get("/").body == "served\n"
        assert lu.ps().empty
    finally:
        engine.reset_caches()


def test_each_size_is_named_for_what_it_is(live, tmp_path):
    """Unpacked everywhere; content and total exactly where the engine keeps compressed layers (containerd)."""
    from labutils.backends.live import stores
    folder = _write(tmp_path / "sizes", Dockerfile=f"FROM {small_base()}\nRUN head -c 300000 /dev/urandom > /blob\n")
    built = lu.build(folder, T + "sizes:v1", quiet=True)
    table = lu.image_sizes(built.tag).set_index("kind")
    assert table.attrs["store"] == built.store == stores.image_store()
    assert table.loc["unpacked", "bytes"] == built.size == lu.image_size(built.tag) > 300_000
    if built.store == "containerd":
        assert built.content_size > 300_000                         # the layers as stored and pushed
        assert built.total_size == built.content_size + built.size
        assert table["known"].all()
    else:
        assert built.content_size is None and built.total_size is None
        assert list(table["known"]) == [True, False, False]
