"""Real-engine tests of finding the engine and cleaning up after labutils (and nothing else)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from shared import _write, golang_base, small_base

import labutils as lu
from labutils import bases
from labutils.backends.live import engine

pytestmark = pytest.mark.engine
T = "lutest-"




# --- bad input: a clear error, nothing lost ---------------------------------

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
    assert engine.engine_url().endswith(url.split("://", 1)[1])
    assert engine.version()["ApiVersion"]


def test_clean_removes_only_what_carries_the_label(live, exercise, tmp_path):
    folder = exercise("multi-stage")
    labelled = lu.build(folder, T + "clean:labelled", quiet=True)
    plain_dir = _write(tmp_path / "plain", Dockerfile=f"FROM {small_base()}\nRUN echo plain > /plain\n")
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
        for sub in (golang_base(), small_base()):            # base images (and stand-ins) are kept too
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
