"""Hostile input, faults and a shared engine, tried on the real engine: nothing lost, nothing touched that is
not labutils' own. Each test is one row of the README's "Faults and bad input" table."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from docker.errors import NotFound
from shared import ROOT, EngineProxy, Opened, context_of, golang_base, small_base

import labutils as lu
from labutils import errors, names
from labutils.course import book
from labutils.docker import buildcontext
from labutils.grading import yourturn
from labutils.ops import runlog, standins
from labutils.settings import overridden

pytestmark = [pytest.mark.engine, pytest.mark.one_engine]


def test_copy_sources_are_the_contexts_as_docker_resolves_them(live, tmp_path):
    """`COPY / /app/` is the whole context (the host's / is never walked), `/a.txt` is the context's a.txt,
    .dockerignore applies, and links out of the context are known by their target, never followed."""
    ctx, outside = context_of(tmp_path)
    (ctx / "Dockerfile").write_text(f"FROM {small_base()}\nCOPY / /app/\nCOPY /a.txt /first.txt\n"
                                    "CMD [\"cat\", \"/first.txt\", \"/app/sub/b.txt\"]\n")
    with Opened(outside) as opened:
        files = buildcontext.inputs(ctx, ctx / "Dockerfile")
        result = lu.build(ctx, "lutest-copy-root:v1", quiet=True)
    assert not opened.seen, f"read outside the context: {opened.seen}"
    assert {"a.txt", "sub/b.txt", "out", "secret-link", ".dockerignore", "Dockerfile"} <= set(files)
    assert "notes.md" not in files, ".dockerignore applies"
    assert files["secret-link"].startswith("symlink:")
    assert lu.run(result.tag).stdout == "a\nb\n"


def test_a_malformed_copy_is_a_build_failure_naming_its_line(live, tmp_path):
    (tmp_path / "Dockerfile").write_text('FROM scratch\nCOPY ["a.txt", \n')
    with pytest.raises(errors.BuildFailed, match="Line 2 of Dockerfile") as info:
        lu.build(tmp_path, "lutest-malformed:v1", quiet=True)
    assert "brackets" in info.value.hint


def test_a_source_that_climbs_out_is_the_engines_error_by_line(live, tmp_path):
    ctx, outside = context_of(tmp_path)
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY ../outside/secret.txt /s\nCOPY out/secret.txt /t\n")
    with Opened(outside) as opened:
        with pytest.raises(errors.BuildFailed) as info:
            lu.build(ctx, "lutest-climb:v1", quiet=True)
    assert not opened.seen
    assert info.value.step in (2, 3) and "COPY" in (info.value.instruction or "")


def test_a_torn_results_log_is_read_around(live, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path))
    log = tmp_path / "results.csv"
    log.write_text("")
    assert lu.run(small_base(), ["true"]).ok                          # an empty log: no error, a row
    with open(log, "a") as fh:
        fh.write("run,,,lutest-half,12,0.5,,,\n" + "build,normal-build")  # a damaged row and a torn one
    runlog._said.clear()
    assert lu.run(small_base(), ["true"]).ok
    assert "damaged row" in capsys.readouterr().err
    frame = book.compare()
    assert len(frame) == 2 and list(frame["kind"]) == ["run", "run"]


def test_clean_keeps_an_image_built_from_a_lab_image(live, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {small_base()}\nCMD [\"true\"]\n")
    lu.build(tmp_path, "lutest-parent:v1", quiet=True)
    child = tmp_path / "child"
    child.mkdir()
    (child / "Dockerfile").write_text(f"FROM {names.ref('lutest-parent:v1')}\nRUN echo theirs > /theirs\n")
    theirs, _ = live.images.build(path=str(child), tag="lutest-theirs:v1", rm=True)
    try:
        assert theirs.labels.get(names.LABEL) == "true", "the child inherits labutils' label"
        removed = lu.clean()
        assert "lutest-parent:v1" in set(removed["name"]) and "lutest-theirs:v1" not in set(removed["name"])
        assert live.images.get("lutest-theirs:v1").id == theirs.id
    finally:
        live.images.remove("lutest-theirs:v1", force=True)


def test_a_kit_with_another_image_loads_nothing(live, tmp_path):
    base = small_base()
    (tmp_path / "Dockerfile").write_text(f"FROM {base}\nRUN echo kit > /which\n")
    kit_side, _ = live.images.build(path=str(tmp_path), tag="lutest-victim:v1", rm=True)
    kit = tmp_path / "kit.tar"
    from labutils.backends import backend
    backend().save_images([base, "lutest-victim:v1"], kit)
    (tmp_path / "Dockerfile").write_text(f"FROM {base}\nRUN echo engine > /which\n")
    engine_side, _ = live.images.build(path=str(tmp_path), tag="lutest-victim:v1", rm=True)
    try:
        with pytest.raises(lu.LabError, match="lutest-victim:v1"):
            standins.load_kit(kit, quiet=True)
        assert live.images.get("lutest-victim:v1").id == engine_side.id != kit_side.id
    finally:
        for image in (engine_side.id, kit_side.id):
            try:
                live.images.remove(image, force=True)
            except NotFound:
                pass


def test_a_flood_of_output_is_cut_not_kept(live):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    out = lu.run(small_base(), ["sh", "-c", "yes 0123456789012345678901234567890123456789 | head -c 200000000"],
                 timeout=300)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert out.ok and len(out.stdout.encode()) <= (1 << 20) + 100
    if os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock") == "unix:///var/run/docker.sock" \
            and os.path.isdir("/var/lib/docker/containers"):
        assert out.truncated and out.stdout.startswith("[labutils] earlier output cut")   # a local engine shows it
    assert grown_mb < 100, f"the kernel grew by {grown_mb:.0f} MB for 200 MB of output"
    print(f"200 MB printed: {len(out.stdout)} characters kept, max RSS +{grown_mb:.1f} MB, "
          f"{time.monotonic() - start:.1f} s")


def test_the_engine_lost_mid_build_and_mid_run(live, tmp_path, monkeypatch):
    base = small_base()
    sock = tmp_path / "engine.sock"
    (tmp_path / "Dockerfile").write_text(f"FROM {base}\nRUN sleep 4\n")
    proxy = EngineProxy(sock)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    monkeypatch.setenv("LABUTILS_MODE", "live")
    try:
        timer = threading.Timer(2.0, proxy.stop)
        timer.start()
        with pytest.raises(errors.EngineUnavailable, match="went away during") as info:
            lu.build(tmp_path, "lutest-lost:v1", nocache=True, quiet=True)
        assert "start it again" in info.value.hint
        timer.join()
        proxy = proxy.again()
        timer = threading.Timer(2.0, proxy.stop)
        timer.start()
        with pytest.raises(errors.EngineUnavailable, match="went away during"):
            lu.run(base, ["sleep", "8"], timeout=60)
        timer.join()
        proxy = proxy.again()
        assert lu.run(base, ["echo", "back"]).stdout == "back\n", "the next call works"
        assert lu.ps().empty, "the container of the lost run is removed once the engine answers"
    finally:
        proxy.stop()


def _run_build_sh(namespace: str, work: Path) -> subprocess.Popen:
    code = ("import labutils as lu\n"
            "folder = lu.write_exercise('builder-pattern', show=False)\n"
            "lu.run_script(folder, 'build.sh')\n"
            "print('RUNTIME', lu.run('welcome-runtime:v1').stdout, end='')\n")
    env = dict(os.environ, LABUTILS_NAMESPACE=namespace, LABUTILS_WORK=str(work), LABUTILS_MODE="live")
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_two_learners_run_build_sh_at_once_on_one_engine(live, tmp_path):
    golang_base()
    plain = {t: _image_id(live, t) for t in ("welcome-builder:v1", "welcome-runtime:v1")}
    procs = {ns: _run_build_sh(ns, tmp_path / ns) for ns in ("lutest-alice", "lutest-bob")}
    outs = {ns: p.communicate(timeout=600)[0] for ns, p in procs.items()}
    try:
        for ns, out in outs.items():
            assert procs[ns].returncode == 0, out
            assert "RUNTIME Welcome to multi-stage Docker builds" in out
            assert _image_id(live, f"{ns}/welcome-runtime:v1"), out
        assert {t: _image_id(live, t) for t in plain} == plain, "the plain names are not touched"
        assert not live.containers.list(all=True, filters={"name": "welcome-builder-container"})
    finally:
        for ns in procs:
            with overridden(LABUTILS_NAMESPACE=ns):
                lu.clean()
        assert not any(_image_id(live, f"{ns}/welcome-runtime:v1") for ns in procs)


def _image_id(live, tag: str) -> str | None:
    try:
        return live.images.get(tag).id
    except NotFound:
        return None


HANGS = """package main

import (
\t"fmt"
\t"net/http"
\t"time"
)

func main() {
\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<h1>Home Page</h1>") })
\thttp.HandleFunc("/contact", func(w http.ResponseWriter, r *http.Request) { time.Sleep(time.Hour) })
\thttp.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
\t\tfor {
\t\t\tfmt.Fprint(w, "<h1>Login Page</h1>")
\t\t}
\t})
\thttp.ListenAndServe(":8080", nil)
}
"""


def test_a_misbehaving_server_fails_only_its_own_row(live, tmp_path):
    (tmp_path / "main.go").write_text(HANGS)
    (tmp_path / "Dockerfile").write_text(f"FROM {golang_base()} AS builder\nWORKDIR /app\nCOPY main.go .\n"
                                         "RUN CGO_ENABLED=0 go build -o main .\nFROM scratch\n"
                                         "COPY --from=builder /app/main /main\nCMD [\"/main\"]\n")
    with overridden(LABUTILS_NAMESPACE="lutest-hangs"):
        lu.build(tmp_path, "activity:yours", labels={**names.labels(), "io.labutils.exercise": "activity"},
                 quiet=True)
        with lu.serve("activity:yours") as server:
            start = time.monotonic()
            with pytest.raises(errors.HttpFailed, match="more than 1 MB"):
                server.get("/login")
            with pytest.raises(errors.HttpFailed, match="no answer in time"):
                server.get("/contact", timeout=2)
            assert time.monotonic() - start < 30
    try:
        from labutils.classroom import shared_engine
        view = shared_engine.class_view()
        row = view[(view["learner"] == "lutest-hangs") & (view["whose"] == "yours")
                   & (view["exercise"] == "activity")].iloc[0]
        assert row["works"] is False or row["works"] == False  # noqa: E712
        assert "contact" in row["said"].lower() or "answer" in row["said"].lower()
    finally:
        with overridden(LABUTILS_NAMESPACE="lutest-hangs"):
            lu.clean()


def test_your_turn_numbers_its_log_as_the_learners_file(live, tmp_path, monkeypatch):
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path))
    folder = yourturn.yours("multi-stage")
    (folder / "Dockerfile").write_text((ROOT / "data/exercises/multi-stage/Dockerfile").read_text())
    review = lu.your_turn("multi-stage", quiet=True)
    n = len([line for line in (folder / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")])
    assert review.result is not None and "LABEL io.labutils" not in review.result.log
    assert f"Step {n}/{n} :" in review.result.log
    lu.clean()


def test_build_sh_paths_stay_inside_its_copy(live, tmp_path, monkeypatch):
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path / "work"))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    folder = yourturn.yours("builder-pattern")
    src = ROOT / "data/exercises/builder-pattern"
    for name in ("Dockerfile.build", "Dockerfile"):
        (folder / name).write_text((src / name).read_text())
    (folder / "build.sh").write_text((src / "build.sh").read_text().replace("rm welcome", f"rm {victim}"))
    review = lu.your_turn("builder-pattern", quiet=True)
    assert victim.read_text() == "keep me\n"
    assert not review.passed and any("outside its folder" in c.fix for c in review.failed)
    lu.clean()
