"""Recorded mode: the notebooks' calls answered from data/recorded, with no engine at all.

The recording itself is proven against the notebooks by the recorded nbval pass
of `make test`; these tests pin down what must never happen: a connection to an
engine, an unlabelled answer, or an answer to something never recorded.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from pathlib import Path

import pytest
from shared import ROOT

import labutils as lu
from labutils import errors
from labutils.backends import backend
from labutils.backends.live import engine
from labutils.course import approaches, book

RECORDED = ROOT / "data" / "recorded"


class FakeEngine:
    """A unix socket where an engine would be: it counts every connection made to it."""

    def __init__(self, path: Path):
        self.accepted = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Recorded mode against the repository's recording, an engine socket that counts, a fresh work/."""
    fake = FakeEngine(tmp_path / "engine.sock")
    monkeypatch.setenv("LABUTILS_MODE", "recorded")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/engine.sock")
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path / "work"))
    monkeypatch.delenv("LABUTILS_RECORDING", raising=False)
    monkeypatch.delenv("LABUTILS_NOTEBOOK", raising=False)
    real_connect = socket.socket.connect
    tcp_attempts = []

    def guarded(self, address):
        if self.family != socket.AF_UNIX:
            tcp_attempts.append(address)
        return real_connect(self, address)
    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield fake
    fake.close()
    assert fake.accepted == 0, "recorded mode connected to the engine socket"
    assert tcp_attempts == [], f"recorded mode opened network connections: {tcp_attempts}"


def test_the_lab_replays_without_touching_an_engine(recorded, capsys, monkeypatch):
    monkeypatch.setenv("LABUTILS_NOTEBOOK", "02-builder-pattern")
    folder = lu.write_exercise("builder-pattern", show=False)
    builder = lu.build(folder, "welcome-builder:v1", dockerfile="Dockerfile.build")
    binary = lu.copy_out("welcome-builder:v1", "/myapp/welcome", folder)
    runtime = lu.build(folder, "welcome-runtime:v1")
    binary.unlink()
    out = lu.run("welcome-runtime:v1")
    err = capsys.readouterr()
    assert out.stdout == "Welcome to multi-stage Docker builds\n" and out.exit_code == 0
    assert runtime.size < 10e6
    assert builder.size > 100 * runtime.size
    meta = json.loads((RECORDED / "meta.json").read_text())
    for answer in (builder, runtime, out):
        assert answer.recorded and meta["recorded"] in answer.recorded and meta["docker_version"] in answer.recorded
    assert "Successfully tagged welcome-runtime:v1" in err.out, "the recorded build log is printed again"
    banners = [line for line in err.err.splitlines() if line.startswith("[labutils]")]
    assert len(banners) == 4 and all("recorded" in b and "no engine was used" in b for b in banners)
    assert book.compare().query("tag == 'welcome-runtime:v1'")["mode"].eq("recorded").all()


def test_the_copied_binary_is_the_recorded_one(recorded, monkeypatch):
    monkeypatch.setenv("LABUTILS_NOTEBOOK", "02-builder-pattern")
    folder = lu.write_exercise("builder-pattern", show=False)
    lu.build(folder, "welcome-builder:v1", dockerfile="Dockerfile.build", quiet=True)
    binary = lu.copy_out("welcome-builder:v1", "/myapp/welcome", folder)
    data = binary.read_bytes()
    assert data[:4] == b"\x7fELF" and os.access(binary, os.X_OK)
    book = json.loads((RECORDED / "02-builder-pattern.json").read_text())
    recorded_copy = next(e for e in book["entries"] if e["call"] == "copy_out")["answer"]["data"]
    assert hashlib.sha256(data).hexdigest() == recorded_copy["$file"] and len(data) == recorded_copy["size"]


def test_serve_answers_the_recorded_pages_only(recorded, monkeypatch):
    monkeypatch.setenv("LABUTILS_NOTEBOOK", "05-activity-go-http-server")
    folder = lu.write_exercise("activity", show=False)
    lu.build(folder, "activity:v1", dockerfile="Dockerfile.solution", quiet=True)
    with lu.serve("activity:v1") as server:
        assert server.recorded
        assert [server.get(p).body for p in ("/", "/contact", "/login")] == [
            "<h1>Home Page</h1>", "<h1>Contact Us</h1>", "<h1>Login Page</h1>"]
        with pytest.raises(errors.RecordingMissing, match="GET /admin"):
            server.get("/admin")
    assert lu.ps().empty and lu.ps().attrs["recorded"]


def test_a_changed_file_is_refused_and_named(recorded, monkeypatch):
    monkeypatch.setenv("LABUTILS_NOTEBOOK", "01-normal-build")
    folder = lu.write_exercise("normal-build", show=False)
    (folder / "welcome.go").write_text((folder / "welcome.go").read_text().replace("Welcome", "Hello"))
    with pytest.raises(errors.RecordingMissing) as info:
        lu.build(folder, "welcome:v1")
    assert "welcome.go differs" in info.value.message and "overwrite=True" in info.value.hint
    with pytest.raises(errors.RecordingMissing, match="last built in this session from files"):
        lu.run("welcome:v1")
    lu.write_exercise("normal-build", overwrite=True, show=False)
    assert lu.build(folder, "welcome:v1", quiet=True).recorded


def test_an_unrecorded_call_says_so(recorded, monkeypatch):
    monkeypatch.setenv("LABUTILS_NOTEBOOK", "01-normal-build")
    with pytest.raises(errors.RecordingMissing) as info:
        lu.run("nobody-built-this:v1")
    assert "Nearest recorded run(): image was 'welcome:v1', now 'nobody-built-this:v1'" in info.value.message
    with pytest.raises(errors.EngineUnavailable, match="recorded mode"):
        backend().save_images(["welcome:v1"], "kit.tar")
    assert lu.clean().empty


def test_asking_more_often_than_recorded_says_so(recorded, monkeypatch):
    """Notebook 01 runs welcome:v1 twice; a third run is not answered with a cycled first one."""
    monkeypatch.setenv("LABUTILS_NOTEBOOK", "01-normal-build")
    first, second = lu.run("welcome:v1"), lu.run("welcome:v1")
    assert first.stdout == second.stdout == "Welcome to multi-stage Docker builds\n"
    with pytest.raises(errors.RecordingMissing, match="holds it 2 times in 01-normal-build, and this is time 3") as info:
        lu.run("welcome:v1")
    assert "restart the kernel" in info.value.hint.lower()


def test_measure_replays_every_repeat(recorded, monkeypatch):
    monkeypatch.setenv("LABUTILS_NOTEBOOK", "06-summary")
    times = lu.measure(repeats=3, quiet=True)
    assert len(times) == 3 * 2 * len(approaches.APPROACHES)
    assert times.attrs["recorded"]
    cold = times[times["cache"] == "cold"]
    assert (cold["steps_cached"] == 0).all() and (times[times["cache"] == "warm"]["steps_cached"] > 0).all()
    assert cold.groupby("approach")["seconds"].nunique().max() > 1, "the three recorded repeats, not one thrice"


def test_recorded_mode_without_a_recording(monkeypatch, tmp_path):
    monkeypatch.setenv("LABUTILS_MODE", "recorded")
    monkeypatch.setenv("LABUTILS_RECORDING", str(tmp_path / "none"))
    with pytest.raises(errors.RecordingMissing, match="no recording") as info:
        lu.run("welcome:v1")
    assert "labutils record" in info.value.hint


def test_auto_mode_falls_back_to_the_recording_only_without_an_engine(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("LABUTILS_MODE", raising=False)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    assert engine.mode() == "recorded"
    assert "answers from the recording" in capsys.readouterr().err
    monkeypatch.setenv("LABUTILS_RECORDING", str(tmp_path / "none"))
    engine.reset_caches()
    assert engine.mode() == "live"
    with pytest.raises(errors.EngineUnavailable, match="dead.sock"):
        engine.client()


def test_the_recording_names_its_date_engine_and_notebooks():
    meta = json.loads((RECORDED / "meta.json").read_text())
    assert meta["docker_version"] and meta["api_version"] and meta["recorded"]
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert meta["notebooks"] == notebooks, "record again: `python -m labutils record`"


def test_run_all_in_recorded_mode_prints_the_table_and_writes_the_figures(tmp_path):
    """`make run` where no engine exists: the recorded comparison, said to be recorded."""
    import subprocess
    import sys
    env = dict(os.environ, LABUTILS_MODE="recorded", LABUTILS_WORK=str(tmp_path / "work"),
               DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock", MPLBACKEND="Agg")
    env.pop("LABUTILS_RECORDING", None)
    proc = subprocess.run([sys.executable, "-m", "labutils", "run-all", "--repeats", "3"], env=env,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recorded = next(e["answer"] for e in json.loads((ROOT / "data/recorded/06-summary.json").read_text())["entries"]
                    if e["call"] == "build" and e["key"]["tag"] == "welcome:v1")["image"]["size"]
    assert "Every approach, with the book's figures" in proc.stdout and lu.human_size(recorded) in proc.stdout
    assert "[ok] activity:v1: serves the three pages" in proc.stdout
    assert "recorded" in proc.stderr and "no engine was used" in proc.stderr
    for name in ("sizes.png", "build-times.png", "build-times.csv"):
        assert (tmp_path / "work" / "figures" / name).stat().st_size > 1000


def test_every_entry_names_its_notebook_and_cell_and_keeps_volatile_values_apart():
    meta = json.loads((RECORDED / "meta.json").read_text())
    for name in meta["notebooks"]:
        stem = name[:-len(".ipynb")]
        book = json.loads((RECORDED / f"{stem}.json").read_text())
        assert book["notebook"] == stem and book["entries"], f"{stem} recorded nothing"
        for e in book["entries"]:
            assert e["notebook"] == stem and isinstance(e["cell"], int) and e["cell"] > 0
        text = (RECORDED / f"{stem}.json").read_text()
        assert '"seconds": 0.' not in text and '"id": "sha256:' not in text, "volatile values belong in volatile/"
        assert "attrs" not in text and "RepoTags" not in text, "only the fields labutils reads are kept"
