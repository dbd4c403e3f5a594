"""Real-engine tests of the results log, recording and replay, and run-all."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import labutils as lu
from labutils.backends.live import engine
from labutils.course import book

pytestmark = pytest.mark.engine
T = "lutest-"




# --- bad input: a clear error, nothing lost ---------------------------------

def test_results_log_has_a_row_per_build_run_and_serve(live, exercise, monkeypatch, tmp_path):
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path / "work"))
    folder = exercise("multi-stage")
    built = lu.build(folder, T + "welcome-optimized:v1", quiet=True)
    lu.run(built.tag)
    server = lu.build(exercise("activity"), T + "activity:log", dockerfile="Dockerfile.solution", quiet=True)
    with lu.serve(server.tag):
        pass
    log = book.compare()
    assert list(log["kind"]) == ["build", "run", "build", "serve"]
    row = log.iloc[0]
    assert (row.exercise, row.tag, row.size_bytes) == ("multi-stage", built.tag, built.size)
    assert row.steps_run + row.steps_cached == len(built.steps)
    assert row.cache == ("warm" if built.steps_cached else "cold")
    assert row.engine_version == engine.version()["Version"] and row.builder == "classic"
    assert log.iloc[1].exit_code == 0
    assert (tmp_path / "work" / "results.csv").is_file()


def test_record_then_replay_gives_the_live_answers(live, exercise, monkeypatch, tmp_path):
    """A real live run recorded, then replayed with no engine: the same answers, labelled."""
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
    engine.reset_caches()
    again = lu.build(folder, T + "rec:v1", quiet=True)
    assert (again.size, again.image_id, again.log, again.diff_ids) == (built.size, built.image_id, built.log,
                                                                      built.diff_ids)
    assert again.recorded and not built.recorded
    assert lu.run(T + "rec:v1").stdout == ran.stdout == "Welcome to multi-stage Docker builds\n"
    lu.build(activity, T + "rec-server:v1", dockerfile="Dockerfile.solution", quiet=True)
    with lu.serve(T + "rec-server:v1") as replayed:
        assert replayed.get("/login") == page and page.body == "<h1>Login Page</h1>"


def test_a_rerecord_of_unchanged_files_changes_only_volatile_values(live, exercise, monkeypatch, tmp_path):
    """Two recordings of the same cold builds and runs: the stable files are identical, the volatile ones not."""
    folder = exercise("multi-stage")
    for name in ("one", "two"):
        engine.reset_caches()                                # as a new `python -m labutils record` process starts
        monkeypatch.setenv("LABUTILS_RECORD", str(tmp_path / name))
        lu.build(folder, T + "rerecord:v1", nocache=True, quiet=True)
        lu.run(T + "rerecord:v1")
        lu.images(T + "rerecord:v1")
    one, two = tmp_path / "one" / "session.json", tmp_path / "two" / "session.json"
    assert one.read_text() == two.read_text()
    assert (tmp_path / "one" / "volatile" / "session.json").read_text() != \
        (tmp_path / "two" / "volatile" / "session.json").read_text()


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
