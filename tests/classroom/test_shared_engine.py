"""Classroom tools on the real engine: the offline kit, reset, namespaces on a shared engine, faults."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from docker.errors import NotFound

import labutils as lu
from labutils import bases, errors, names
from labutils.ops import standins

pytestmark = pytest.mark.engine
from shared import ROOT, EngineProxy, golang_base, small_base


def _py(code: str, env: dict, timeout: float = 600, **kw):
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, **kw)


def test_kit_round_trip_into_a_cleaned_engine(live, tmp_path):
    kit = tmp_path / "kit.tar"
    saved = standins.save_kit(kit, quiet=True)
    before = {name: live.images.get(name).id for name in saved}
    def here(name):
        try:
            return live.images.get(name) is not None
        except NotFound:
            return False
    expected = list(dict.fromkeys(ref if here(ref) else bases.standin_name(ref) for ref in bases.LAB_BASES))
    others = [bases.required_standin(ref, p) for p in standins.KIT_PLATFORMS for ref in bases.FOREIGN_BASES]
    expected += sorted(name for name in others if here(name))      # another platform's, where made here
    assert saved == expected, "each lab base as it is here: the real image, else its stand-in"
    # clean the engine of everything labutils made, stand-ins included (and nothing else). An image built on a
    # stand-in inherits its label (the class's lab image, made FROM the Debian stand-in, while the class runs
    # beside this test in `make test`): only the stand-ins' own names go, and the lab's names they were given
    standin_names = {n for ref in bases.LAB_BASES for n in (ref, bases.standin_name(ref)) if n} | set(others) | {
        bases.BULLSEYE, bases.DEBIAN} | {bases.standin_on_platform(bases.BULLSEYE, p) for p in standins.KIT_PLATFORMS}
    for img in live.images.list(filters={"label": names.LABEL}) + live.images.list(filters={"label": bases.STANDIN_LABEL}):
        ours = names.LABEL in (img.labels or {})
        for tag in img.tags:
            if not ours and tag not in standin_names:
                continue
            try:
                live.images.remove(tag, force=True)
            except NotFound:
                pass                                      # went with an earlier tag of the same image
    assert not lu.lab_ready(lu.doctor()), "with the bases gone the checklist must say so"
    (tmp_path / "Dockerfile").write_text("FROM golang:1.15.6\nRUN true\n")
    if os.environ.get("LABUTILS_RIG") == "containerd":      # its registry mirror answers: the base is pulled again
        assert lu.build(tmp_path, "lutest-pruned:v1", quiet=True).substitutions == {}
        assert live.images.get("golang:1.15.6")
    else:
        with pytest.raises(errors.BaseImageUnavailable) as info:   # what a learner sees after `docker system prune -a`
            lu.build(tmp_path, "lutest-pruned:v1")
        assert "bases --offline" in info.value.hint and "--load kit.tar" in info.value.hint
    loaded = standins.load_kit(kit, quiet=True)
    assert set(loaded) == set(saved)
    assert {name: live.images.get(name).id for name in saved} == before
    assert lu.lab_ready(lu.doctor())


def test_load_kit_bad_input(live, tmp_path):
    with pytest.raises(lu.LabError, match="no kit"):
        standins.load_kit(tmp_path / "missing.tar")
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all")
    with pytest.raises(lu.LabError, match="not an image archive"):
        standins.load_kit(junk)


def test_reset_touches_only_its_namespace_and_keeps_the_bases(live, tmp_path):
    work = tmp_path / "work"
    build = ("import labutils as lu\n"
             "f = lu.write_exercise('multi-stage', show=False)\n"
             "lu.build(f, 'welcome-optimized:v1', quiet=True)\n")
    for ns in ("resetbob", "resetalice"):
        proc = _py(build, {"LABUTILS_NAMESPACE": ns, "LABUTILS_WORK": str(work / ns)})
        assert proc.returncode == 0, proc.stderr
    unlabelled = "lutest-unlabelled:keep"
    live.images.get(small_base()).tag(unlabelled)
    try:
        proc = subprocess.run([sys.executable, "-m", "labutils", "reset"], capture_output=True, text=True,
                              env={**os.environ, "LABUTILS_NAMESPACE": "resetbob", "LABUTILS_WORK": str(work / "resetbob")},
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "resetbob/welcome-optimized:v1" in proc.stdout
        assert not (work / "resetbob" / "multi-stage").exists()
        tags = {t for i in live.images.list() for t in i.tags}
        assert "resetbob/welcome-optimized:v1" not in tags
        assert {"resetalice/welcome-optimized:v1", unlabelled, golang_base(), small_base()} <= tags
        assert (work / "resetalice" / "multi-stage").is_dir()
    finally:
        live.images.remove(unlabelled)
        _py("import labutils as lu; lu.clean()", {"LABUTILS_NAMESPACE": "resetalice"})


LEARNER = r"""
import json, labutils as lu
from labutils.course import book
f = lu.write_exercise("multi-stage", show=False)
built = lu.build(f, "welcome-optimized:v1", quiet=True)
out = lu.run("welcome-optimized:v1").stdout
fa = lu.write_exercise("activity", show=False)
lu.build(fa, "activity:v1", dockerfile="Dockerfile.solution", quiet=True)
with lu.serve("activity:v1") as server:
    port, body = server.host_port, server.get("/login").body
print(json.dumps({"tag": built.tag, "out": out, "port": port, "body": body,
                  "images": sorted(lu.images()["repository"]), "rows": len(book.compare()),
                  "ps": len(lu.ps())}))
"""


def test_eight_learners_at_once_on_one_engine(live, tmp_path):
    learners = [f"learner{i}" for i in range(8)]
    procs = {ns: subprocess.Popen([sys.executable, "-c", LEARNER], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "LABUTILS_NAMESPACE": ns, "LABUTILS_WORK": str(tmp_path / ns)})
             for ns in learners}
    results = {}
    try:
        for ns, proc in procs.items():
            out, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, f"{ns}: {err[-2000:]}"
            results[ns] = json.loads(out.strip().splitlines()[-1])
        for ns, r in results.items():
            assert r["tag"] == "welcome-optimized:v1", "learners see the lab's plain names"
            assert r["out"] == "Welcome to multi-stage Docker builds\n" and r["body"] == "<h1>Login Page</h1>"
            assert r["images"] == ["activity", "welcome-optimized"], f"{ns} sees only its own images"
            assert r["rows"] == 4 and r["ps"] == 0, "its own results log; no container left while it ran"
        tags = {t for i in live.images.list() for t in i.tags}
        assert all(f"{ns}/activity:v1" in tags for ns in learners)
        left = [c.name for c in live.containers.list(all=True, ignore_removed=True, filters={"label": names.LABEL})
                if c.labels.get(names.NAMESPACE_LABEL) in learners]
        assert left == []
    finally:
        for ns in learners:
            _py("import labutils as lu; lu.clean()", {"LABUTILS_NAMESPACE": ns})


def test_a_namespaced_from_finds_the_learners_own_image(live, tmp_path):
    code = ("import labutils as lu\n"
            "f = lu.write_exercise('best-practices', show=False)\n"
            "lu.build(f, 'demo-base:latest', dockerfile='Dockerfile.base-v1', quiet=True)\n"
            "lu.build(f, 'demo-unpinned:v1', dockerfile='Dockerfile.unpinned')\n"
            "print(lu.run('demo-unpinned:v1').stdout)\n")
    env = {"LABUTILS_NAMESPACE": "fromcarol", "LABUTILS_WORK": str(tmp_path)}
    try:
        proc = _py(code, env)
        assert proc.returncode == 0, proc.stderr
        assert "base 1.0" in proc.stdout and "stand-in demo-base" not in proc.stdout
    finally:
        _py("import labutils as lu; lu.clean()", env)


def test_a_killed_kernel_leaves_no_container_behind(live, tmp_path):
    code = ("import labutils as lu, time, sys\n"
            "f = lu.write_exercise('activity', show=False)\n"
            "lu.build(f, 'activity:v1', dockerfile='Dockerfile.solution', quiet=True)\n"
            "with lu.serve('activity:v1') as s:\n"
            "    print(s.container_name, flush=True)\n"
            "    time.sleep(600)\n")
    env = {**os.environ, "LABUTILS_NAMESPACE": "killed", "LABUTILS_WORK": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    name = ""
    for line in proc.stdout:             # serve first prints the docker command it stands for, then the test's name
        if not line.startswith("$ "):
            name = line.strip()
            break
    assert name.startswith("labutils-killed-serve-"), name
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert live.containers.get(name).status == "running", "the orphan is there before the next start"
    after = _py("import labutils as lu; print(len(lu.ps()))", {"LABUTILS_NAMESPACE": "killed", "LABUTILS_WORK": str(tmp_path)})
    assert after.returncode == 0 and after.stdout.strip() == "0"
    assert "left by a labutils process that died" in after.stderr
    assert name not in {c.name for c in live.containers.list(all=True, ignore_removed=True)}
    _py("import labutils as lu; lu.clean()", {"LABUTILS_NAMESPACE": "killed"})


def test_an_interrupted_build_leaves_nothing_running_and_the_next_build_works(live, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM alpine:latest\nRUN echo started && sleep 60\n")
    code = ("import labutils as lu\n"
            f"lu.build({str(tmp_path)!r}, 'lutest-interrupted:v1', nocache=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stdout:
        if "started" in line:
            break
    proc.send_signal(signal.SIGINT)                      # what the Jupyter stop button sends
    _, err = proc.communicate(timeout=60)
    assert "KeyboardInterrupt" in err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        running = [c for c in live.containers.list(ignore_removed=True) if "sleep 60" in " ".join(c.attrs["Config"].get("Cmd") or [])]
        if not running:
            break
        time.sleep(1)
    assert not running, "the build's container must not keep running after the interrupt"
    (tmp_path / "Dockerfile").write_text("FROM alpine:latest\nRUN echo again\n")
    assert lu.build(tmp_path, "lutest-interrupted:v1", quiet=True).size > 0


def test_an_engine_restarted_mid_lab_fails_fast_then_reconnects(live, tmp_path, monkeypatch):
    sock = tmp_path / "engine.sock"
    proxy = EngineProxy(sock)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    monkeypatch.setenv("LABUTILS_MODE", "live")
    try:
        assert "repository" in lu.images().columns
        proxy.stop()                                      # the engine goes away mid-lab
        start = time.monotonic()
        with pytest.raises(errors.EngineUnavailable) as info:
            lu.images()
        assert time.monotonic() - start < 10, "a vanished engine must fail fast, not hang"
        assert str(sock) in info.value.message and "DOCKER_HOST" in info.value.hint
        proxy = proxy.again()                             # and comes back
        assert "repository" in lu.images().columns, "the next call reconnects by itself"
    finally:
        proxy.stop()
