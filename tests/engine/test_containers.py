"""Real-engine tests of run(), serve() and copy_out(): every container removed, every failure explained."""
from __future__ import annotations

import pytest
from shared import small_base

import labutils as lu
from labutils import errors, names
from labutils.backends.live import engine

pytestmark = pytest.mark.engine
T = "lutest-"




# --- bad input: a clear error, nothing lost ---------------------------------

@pytest.fixture(scope="module")
def activity_images(live, tmp_path_factory):
    """The activity built both ways: the glibc first try and the CGO_ENABLED=0 fix."""
    import shutil

    from shared import EXERCISES
    src = tmp_path_factory.mktemp("activity") / "activity"
    shutil.copytree(EXERCISES / "activity", src)
    broken = lu.build(src, T + "activity:glibc", dockerfile="Dockerfile.first-try", quiet=True)
    fixed = lu.build(src, T + "activity:v1", dockerfile="Dockerfile.solution", quiet=True)
    return broken, fixed


def test_builder_pattern_through_copy_out(live, exercise):
    folder = exercise("builder-pattern")
    builder = lu.build(folder, T + "welcome-builder:v1", dockerfile="Dockerfile.build", quiet=True)
    binary = lu.copy_out(builder.tag, "/myapp/welcome", folder)
    assert binary == folder / "welcome" and binary.stat().st_mode & 0o100
    runtime = lu.build(folder, T + "welcome-runtime:v1", quiet=True)
    binary.unlink()
    assert runtime.size < builder.size / 100
    assert lu.run(runtime.tag).stdout == "Welcome to multi-stage Docker builds\n"
    assert runtime.size < 3_000_000


def test_activity_serves_the_three_pages(activity_images):
    _, fixed = activity_images
    with lu.serve(fixed.tag) as server:
        assert server.url.startswith(f"http://{engine.published_host()}:")
        pages = {p: server.get(p) for p in ("/", "/contact", "/login")}
        name = server.container_name
    assert {p: (a.status, a.body) for p, a in pages.items()} == {
        "/": (200, "<h1>Home Page</h1>"), "/contact": (200, "<h1>Contact Us</h1>"),
        "/login": (200, "<h1>Login Page</h1>")}
    assert not engine.client().containers.list(all=True, ignore_removed=True, filters={"name": name})


def test_serve_port_is_published_on_loopback_only(activity_images, live):
    _, fixed = activity_images
    with lu.serve(fixed.tag) as server:
        c = live.containers.get(server.container_name)
        bindings = c.attrs["HostConfig"]["PortBindings"]["8080/tcp"]
        # a local engine binds loopback only; a remote one (or one in another namespace) its host
        assert [b["HostIp"] for b in bindings] == ["127.0.0.1" if engine.binds_loopback() else "0.0.0.0"]
        assert c.labels[names.LABEL] == "true"


def test_glibc_binary_dies_on_alpine_standin(activity_images):
    broken, _ = activity_images
    out = lu.run(broken.tag)
    assert out.exit_code != 0
    assert "no such file or directory" in out.stderr


def test_serve_of_a_container_that_exits_carries_its_logs(activity_images):
    broken, _ = activity_images
    with pytest.raises(errors.ContainerFailed) as info:
        with lu.serve(broken.tag, timeout=10):
            pass
    assert "no such file or directory" in str(info.value)
    assert "exited" in info.value.message and "CGO_ENABLED=0" in info.value.hint


def test_server_that_never_gets_ready_times_out_and_is_removed(activity_images):
    _, fixed = activity_images
    with pytest.raises(errors.ServerNotReady, match="did not answer") as info:
        with lu.serve(fixed.tag, port=9999, timeout=2):
            pass
    assert "Service started on port 8080" in str(info.value)


def test_requested_host_port_already_taken(activity_images):
    _, fixed = activity_images
    with lu.serve(fixed.tag) as first:                 # holds its port on whatever host the engine publishes on
        taken = first.host_port
        with pytest.raises(errors.PortInUse, match=str(taken)) as info:
            with lu.serve(fixed.tag, host_port=taken):
                pass
        assert first.get("/").body == "<h1>Home Page</h1>"
    assert "host_port" in info.value.hint
    assert lu.ps().empty


def test_serve_removes_its_container_on_keyboard_interrupt(activity_images, live):
    _, fixed = activity_images
    with pytest.raises(KeyboardInterrupt):
        with lu.serve(fixed.tag) as server:
            name = server.container_name
            raise KeyboardInterrupt
    assert not live.containers.list(all=True, ignore_removed=True, filters={"name": name})


def test_run_timeout_kills_and_removes(live):
    with pytest.raises(errors.RunTimeout, match="still running"):
        lu.run(small_base(), ["sleep", "30"], timeout=1)


def test_run_passes_env_and_splits_streams(live):
    out = lu.run(small_base(), ["sh", "-c", 'echo "$GREETING"; echo oops >&2; exit 3'],
                 env={"GREETING": "hello"})
    assert (out.exit_code, out.stdout, out.stderr) == (3, "hello\n", "oops\n")


def test_file_size_reads_the_header_without_copying(live, exercise):
    folder = exercise("multi-stage")
    built = lu.build(folder, T + "fs:v1", quiet=True)
    binary = lu.file_size(built.tag, "/myapp/welcome")
    if built.store == "containerd":          # scratch + one binary, counted in whole blocks
        assert binary <= built.size <= binary * 1.05
    else:                                    # the graph driver counts the file's bytes
        assert binary == built.size
    with pytest.raises(lu.LabError, match="no /nope"):
        lu.file_size(built.tag, "/nope")
