"""Real-engine tests: build and run the lab's images; every bad input says what to do."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

import labutils as lu
from labutils import bases, engine

pytestmark = pytest.mark.engine
T = "lutest-"


@pytest.fixture(scope="module")
def activity_images(live, tmp_path_factory):
    """The activity built both ways: the glibc first try and the CGO_ENABLED=0 fix."""
    import shutil
    from conftest import EXERCISES
    src = tmp_path_factory.mktemp("activity") / "activity"
    shutil.copytree(EXERCISES / "activity", src)
    broken = lu.build(src, T + "activity:glibc", dockerfile="Dockerfile.first-try", quiet=True)
    fixed = lu.build(src, T + "activity:v1", dockerfile="Dockerfile.solution", quiet=True)
    return broken, fixed


def test_exercise_403_builds_on_the_standin_and_prints_welcome(live, exercise):
    folder = exercise("multi-stage")
    before = (folder / "Dockerfile").read_bytes()
    result = lu.build(folder, T + "welcome-optimized:v1")
    assert result.tag == T + "welcome-optimized:v1"
    assert result.image_id.startswith("sha256:")
    assert [s.instruction.split()[0] for s in result.steps][:5] == ["FROM", "WORKDIR", "COPY", "RUN", "FROM"]
    assert all(s.seconds >= 0 for s in result.steps) and result.seconds > 0
    assert result.size == lu.image_size(result.tag) < 10_000_000
    assert "Successfully tagged" in result.log
    assert (folder / "Dockerfile").read_bytes() == before, "the learner's Dockerfile must not change"
    if not bases.exists("golang:1.15.6"):
        assert result.substitutions["golang:1.15.6"] == bases.GOLANG
    out = lu.run(result.tag)
    assert out.exit_code == 0 and out.stdout == "Welcome to multi-stage Docker builds\n"


def test_warm_rebuild_comes_from_cache(live, exercise):
    folder = exercise("normal-build")
    lu.build(folder, T + "welcome:v1", quiet=True)
    again = lu.build(folder, T + "welcome:v1", quiet=True)
    assert again.steps_cached >= 3           # WORKDIR, COPY, RUN
    cold = lu.build(folder, T + "welcome:v1", nocache=True, quiet=True)
    assert cold.steps_cached == 0
    assert lu.run(T + "welcome:v1").stdout.startswith("Welcome")


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
        assert server.url.startswith("http://127.0.0.1:")
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
        assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
        assert c.labels[engine.LABEL] == "true"


def test_glibc_binary_dies_on_alpine_standin(activity_images):
    broken, _ = activity_images
    out = lu.run(broken.tag)
    assert out.exit_code != 0
    assert "no such file or directory" in out.stderr


def test_serve_of_a_container_that_exits_carries_its_logs(activity_images):
    broken, _ = activity_images
    with pytest.raises(lu.ContainerFailed) as info:
        with lu.serve(broken.tag, timeout=10):
            pass
    assert "no such file or directory" in str(info.value)
    assert "CGO_ENABLED=0" in str(info.value) or "exited" in str(info.value)


def test_server_that_never_gets_ready_times_out_and_is_removed(activity_images):
    _, fixed = activity_images
    with pytest.raises(lu.ServerNotReady, match="did not answer") as info:
        with lu.serve(fixed.tag, port=9999, timeout=2):
            pass
    assert "Service started on port 8080" in str(info.value)


def test_requested_host_port_already_taken(activity_images):
    _, fixed = activity_images
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        with pytest.raises(lu.PortInUse, match=str(taken)) as info:
            with lu.serve(fixed.tag, host_port=taken):
                pass
    assert "host_port" in info.value.hint


def test_serve_removes_its_container_on_keyboard_interrupt(activity_images, live):
    _, fixed = activity_images
    with pytest.raises(KeyboardInterrupt):
        with lu.serve(fixed.tag) as server:
            name = server.container_name
            raise KeyboardInterrupt
    assert not live.containers.list(all=True, ignore_removed=True, filters={"name": name})


def test_run_timeout_kills_and_removes(live):
    with pytest.raises(lu.RunTimeout, match="still running"):
        lu.run(bases.BUSYBOX, ["sleep", "30"], timeout=1)


def test_run_passes_env_and_splits_streams(live):
    out = lu.run(bases.BUSYBOX, ["sh", "-c", 'echo "$GREETING"; echo oops >&2; exit 3'],
                 env={"GREETING": "hello"})
    assert (out.exit_code, out.stdout, out.stderr) == (3, "hello\n", "oops\n")


# --- bad input: a clear error, nothing lost ---------------------------------

def _write(folder, **files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".")).write_text(text)
    return folder


def test_dockerfile_syntax_error(live, tmp_path):
    folder = _write(tmp_path / "bad", Dockerfile="FROMM scratch\n")
    with pytest.raises(lu.BuildFailed) as info:
        lu.build(folder, T + "bad:syntax", quiet=True)
    assert "unknown instruction" in str(info.value).lower()
    assert "Dockerfile" in info.value.hint


def test_copy_of_a_missing_file(live, exercise):
    folder = exercise("multi-stage")
    (folder / "welcome.go").unlink()
    with pytest.raises(lu.BuildFailed) as info:
        lu.build(folder, T + "bad:copy", quiet=True)
    err = info.value
    assert err.step == 3 and err.instruction == "COPY welcome.go ."
    assert "build context" in err.hint


def test_go_compile_error_is_readable(live, exercise):
    folder = exercise("multi-stage")
    (folder / "welcome.go").write_text('package main\nimport "fmt"\nfunc main() {\n    fmt.Printn("hi")\n}\n')
    with pytest.raises(lu.BuildFailed) as info:
        lu.build(folder, T + "bad:go", quiet=True)
    text = str(info.value)
    assert "step 4/" in text and "RUN go build -o welcome ." in text
    assert "welcome.go:4" in text and "Printn" in text


def test_unknown_base_image_without_standin(live, tmp_path):
    folder = _write(tmp_path / "unknown", Dockerfile="FROM labutils-no-such-image:1\nRUN true\n")
    with pytest.raises(lu.BaseImageUnavailable) as info:
        lu.build(folder, T + "bad:base", quiet=True)
    assert "labutils-no-such-image:1" in str(info.value) and "stand-in" in info.value.hint


def test_wrong_target_names_the_stages(live, exercise):
    folder = exercise("multi-stage")
    with pytest.raises(lu.BuildFailed, match="no stage") as info:
        lu.build(folder, T + "bad:target", target="buidler", quiet=True)
    assert "builder" in info.value.hint


def test_empty_build_context(live, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(lu.LabError, match="no Dockerfile") as info:
        lu.build(tmp_path / "empty", T + "bad:empty", quiet=True)
    assert "empty" in info.value.hint


@pytest.mark.parametrize("mode", ["live", "auto"])
def test_no_engine_says_what_to_do(tmp_path, mode):
    """Live, or auto with no recording to fall back on: the first call says what to do."""
    code = ("import labutils as lu\n"
            "try:\n    lu.images()\n"
            "except lu.EngineUnavailable as e:\n    print('OK', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"DOCKER_HOST": f"unix://{tmp_path}/dead.sock", "PATH": "/usr/bin:/bin",
                               "LABUTILS_MODE": mode, "LABUTILS_RECORDING": str(tmp_path / "no-recording")},
                          timeout=60)
    assert proc.stdout.startswith("OK"), proc.stderr
    assert "dead.sock" in proc.stdout and "DOCKER_HOST" in proc.stdout and "recorded" in proc.stdout


def test_docker_context_is_honoured(live, monkeypatch, tmp_path):
    """A real context pointing at the real engine's socket is used when DOCKER_HOST is unset."""
    from docker.context import ContextAPI
    url = engine.engine_url()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    (tmp_path / "config.json").write_text("{}")      # contexts live beside the config file
    ContextAPI.create_context("lutest-ctx", host=url)
    assert (tmp_path / "contexts" / "meta").is_dir()
    monkeypatch.setenv("DOCKER_CONTEXT", "lutest-ctx")
    try:
        assert engine.engine_url().endswith(url.split("://", 1)[1])
        assert engine.version()["ApiVersion"]
    finally:
        engine._client_for.cache_clear()


def test_a_copy_from_an_image_and_a_stage_from_a_stage(live, tmp_path):
    folder = _write(tmp_path / "forms", Dockerfile=(
        "FROM alpine:latest AS base\nRUN echo built > /built\n"
        "FROM base AS test\nRUN test -f /built\n"
        "FROM scratch\nCOPY --from=alpine:latest /etc/passwd /passwd\nCOPY --from=test /built /built\n"))
    result = lu.build(folder, T + "forms:v1", quiet=True)
    assert result.size < 2000
    if not bases.exists("alpine:latest"):
        assert result.substitutions == {"alpine:latest": bases.BUSYBOX}


def test_clean_removes_only_what_carries_the_label(live, exercise, tmp_path):
    folder = exercise("multi-stage")
    labelled = lu.build(folder, T + "clean:labelled", quiet=True)
    plain_dir = _write(tmp_path / "plain", Dockerfile=f"FROM {bases.BUSYBOX}\nRUN echo plain > /plain\n")
    plain, _ = live.images.build(path=str(plain_dir), tag=T + "clean:plain", rm=True)
    container = live.containers.create(plain.id, name="lutest-unlabelled", command=["true"])
    try:
        dry = lu.clean(dry_run=True)
        assert T + "clean:labelled" in " ".join(dry["name"]) and not dry["removed"].any()
        assert bases.exists(T + "clean:labelled")
        done = lu.clean()
        assert done["removed"].all()
        assert not bases.exists(labelled.tag)
        assert bases.exists(T + "clean:plain")
        live.containers.get("lutest-unlabelled")            # still there
        assert lu.images().empty
        for sub in (bases.GOLANG, bases.BUSYBOX):            # stand-ins are kept too
            assert bases.exists(sub)
    finally:
        container.remove(force=True)
        live.images.remove(T + "clean:plain", force=True)


def test_cli_doctor_and_clean_dry_run(live):
    doctor = subprocess.run([sys.executable, "-m", "labutils", "doctor"], capture_output=True, text=True)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "[ok] engine: Docker Engine" in doctor.stdout
    dry = subprocess.run([sys.executable, "-m", "labutils", "clean", "--dry-run"], capture_output=True, text=True)
    assert dry.returncode == 0 and "would remove" in dry.stdout
    for cmd in ("doctor", "bases", "clean"):
        helped = subprocess.run([sys.executable, "-m", "labutils", cmd, "--help"], capture_output=True, text=True)
        assert helped.returncode == 0 and "usage" in helped.stdout


def test_results_log_has_a_row_per_build_run_and_serve(live, exercise, monkeypatch, tmp_path):
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path / "work"))
    folder = exercise("multi-stage")
    built = lu.build(folder, T + "welcome-optimized:v1", quiet=True)
    lu.run(built.tag)
    server = lu.build(exercise("activity"), T + "activity:log", dockerfile="Dockerfile.solution", quiet=True)
    with lu.serve(server.tag):
        pass
    log = lu.compare()
    assert list(log["kind"]) == ["build", "run", "build", "serve"]
    row = log.iloc[0]
    assert (row.exercise, row.tag, row.size_bytes) == ("multi-stage", built.tag, built.size)
    assert row.steps_run + row.steps_cached == len(built.steps)
    assert row.cache == ("warm" if built.steps_cached else "cold")
    assert row.engine_version == engine.version()["Version"] and row.builder == "classic"
    assert log.iloc[1].exit_code == 0
    assert (tmp_path / "work" / "results.csv").is_file()


def test_compare_puts_the_book_beside_our_rows(monkeypatch, tmp_path):
    from labutils import results
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path))
    monkeypatch.setattr(engine, "version", lambda: {"Version": "test"})
    results.record("build", "welcome:v1", exercise="normal-build", seconds=1.0, size_bytes=10, steps_run=5,
                   steps_cached=0, builder="classic")
    row = lu.compare().iloc[0]
    assert (row.book_mb, row.approach, row.cache) == (805, "normal build", "cold")


def test_record_then_replay_gives_the_live_answers(live, exercise, monkeypatch, tmp_path):
    """A real live run recorded, then replayed with no engine: the same answers, labelled."""
    from labutils import recording
    rec = tmp_path / "recording"
    monkeypatch.setenv("LABUTILS_RECORD", str(rec))
    folder = exercise("multi-stage")
    built = lu.build(folder, T + "rec:v1", quiet=True)
    ran = lu.run(T + "rec:v1")
    activity = exercise("activity")
    lu.build(activity, T + "rec-server:v1", dockerfile="Dockerfile.solution", quiet=True)
    with lu.serve(T + "rec-server:v1") as server:
        page = server.get("/login")
    monkeypatch.delenv("LABUTILS_RECORD")
    monkeypatch.setenv("LABUTILS_MODE", "recorded")
    monkeypatch.setenv("LABUTILS_RECORDING", str(rec))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    recording._replay_for.cache_clear()
    try:
        again = lu.build(folder, T + "rec:v1", quiet=True)
        assert (again.size, again.image_id, again.log) == (built.size, built.image_id, built.log)
        assert again.recorded and not built.recorded
        assert lu.run(T + "rec:v1").stdout == ran.stdout == "Welcome to multi-stage Docker builds\n"
        lu.build(activity, T + "rec-server:v1", dockerfile="Dockerfile.solution", quiet=True)
        with lu.serve(T + "rec-server:v1") as replayed:
            assert replayed.get("/login") == page and page.body == "<h1>Login Page</h1>"
    finally:
        recording._replay_for.cache_clear()


def test_run_all_builds_runs_and_draws_on_the_engine(live, tmp_path):
    env = dict(os.environ, LABUTILS_MODE="live", LABUTILS_WORK=str(tmp_path / "work"), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "labutils", "run-all", "--repeats", "1"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for tag in ("welcome:v1", "welcome-runtime:v1", "welcome-optimized:v1", "multi-stage:v1", "activity:v1"):
        assert f"[ok] {tag}" in proc.stdout
    times = __import__("pandas").read_csv(tmp_path / "work" / "figures" / "build-times.csv")
    assert set(times["cache"]) == {"cold", "warm"} and len(times) == 10
    assert (tmp_path / "work" / "figures" / "sizes.png").stat().st_size > 10_000


def _need_buildkit():
    if lu.buildkit_cli() is None:
        if os.environ.get("LABUTILS_REQUIRE_ENGINE") == "1":
            pytest.fail("CI installs Debian's docker.io, whose 20.10 client builds with BuildKit; none was found")
        pytest.skip("no docker CLI that builds with BuildKit")


def test_buildkit_skips_the_stage_the_target_does_not_need(live, exercise):
    _need_buildkit()
    folder = exercise("multi-stage-intro")
    classic = lu.build(folder, T + "ts:classic", dockerfile="Dockerfile.test-stage", target="runtime",
                       nocache=True, quiet=True)
    kit = lu.build(folder, T + "ts:buildkit", dockerfile="Dockerfile.test-stage", target="runtime",
                   nocache=True, quiet=True, builder="buildkit")
    assert kit.builder == "buildkit" and kit.image_id.startswith("sha256:")
    assert "test stage: helloworld says Hello World" in classic.log
    assert {s.stage for s in kit.steps} == {"builder", "runtime"}, "the test stage must not run"
    assert kit.size == classic.size and lu.run(kit.tag).stdout == "Hello World\n"
    assert any(s.instruction.startswith("RUN go build") and s.stage == "builder" for s in kit.steps)
    assert lu.images(kit.tag)["size_bytes"].iloc[0] == kit.size
    warm = lu.build(folder, T + "ts:buildkit", dockerfile="Dockerfile.test-stage", target="runtime",
                    quiet=True, builder="buildkit")
    assert warm.steps_cached >= 3


def test_buildkit_failure_names_the_step(live, tmp_path):
    _need_buildkit()
    (tmp_path / "Dockerfile").write_text("FROM golang:1.15.6\nRUN echo building && exit 3\n")
    with pytest.raises(lu.BuildFailed) as info:
        lu.build(tmp_path, T + "kitfail:v1", builder="buildkit", quiet=True)
    e = info.value
    assert "RUN echo building && exit 3" in e.message and "exit code: 3" in e.engine_said
    assert "RUN step failed" in e.hint
    with pytest.raises(lu.LabError, match="not a builder"):
        lu.build(tmp_path, T + "x:v1", builder="kaniko")


def _to_oci(legacy, out, gz_every_other=True):
    """Rewrite a legacy `docker save` archive in the OCI layout of Docker 25+, gzipping some layers."""
    import gzip
    import hashlib
    import io
    import json
    import tarfile
    with tarfile.open(legacy) as src:
        manifest = json.load(src.extractfile("manifest.json"))[0]
        blobs, layers = {}, []
        for i, name in enumerate(manifest["Layers"]):
            data = src.extractfile(name).read()
            if gz_every_other and i % 2:
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
    with tarfile.open(out, "w") as tar:
        for name, data in blobs.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_analyze_finds_the_deleted_file_in_both_layouts(live, tmp_path):
    from labutils.analyze import analyze_archive
    (tmp_path / "Dockerfile").write_text(
        "FROM alpine:latest\nRUN head -c 3000000 /dev/urandom > /big.bin\nRUN rm /big.bin\n")
    lu.build(tmp_path, T + "waste:v1", quiet=True)
    live_analysis = lu.analyze(T + "waste:v1")
    engine_major = int(lu.engine.version()["Version"].split(".")[0])
    assert live_analysis.layout == ("oci" if engine_major >= 25 else "legacy")
    assert abs(live_analysis.wasted_bytes - 3_000_000) <= 30_000
    assert list(live_analysis.inefficiencies["path"]) == ["/big.bin"]
    legacy = tmp_path / "saved.tar"
    with open(legacy, "wb") as fh:
        for chunk in live.images.get(T + "waste:v1").save(named=True):
            fh.write(chunk)
    oci = tmp_path / "oci.tar"
    _to_oci(legacy, oci)
    other = analyze_archive(oci, T + "waste:v1")
    assert other.layout == "oci"
    assert (other.wasted_bytes, other.efficiency) == (live_analysis.wasted_bytes, live_analysis.efficiency)
    assert other.layers["bytes"].tolist() == live_analysis.layers["bytes"].tolist()
    with pytest.raises(lu.ImageNotFound):
        lu.analyze(T + "never-built:v1")


def test_file_size_reads_the_header_without_copying(live, exercise):
    folder = exercise("multi-stage")
    built = lu.build(folder, T + "fs:v1", quiet=True)
    assert lu.file_size(built.tag, "/myapp/welcome") == built.size     # scratch + one binary
    with pytest.raises(lu.LabError, match="no /nope"):
        lu.file_size(built.tag, "/nope")
