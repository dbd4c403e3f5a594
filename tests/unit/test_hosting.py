"""Hosted runs: the devcontainer (live, Docker-in-Docker) and Binder (recorded mode) set-ups."""
from __future__ import annotations

import json
import subprocess

import yaml
from shared import ROOT


def test_devcontainer_runs_the_lab_live_on_python_311_with_docker_in_docker():
    spec = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
    assert "3.11" in spec["image"] and "python" in spec["image"]
    dind = [f for f in spec["features"] if "docker-in-docker" in f]
    assert dind, "a hosted service must get its own engine: the docker-in-docker feature"
    assert spec["containerEnv"]["LABUTILS_MODE"] == "live", "with an engine there, never fall back to the recording"
    assert "make venv" in spec["postCreateCommand"] and "labutils bases" in spec["postCreateCommand"]
    assert 8888 in spec["forwardPorts"]
    assert "build" not in spec, "the devcontainer is an image plus features, with no Dockerfile of its own"


def test_binder_finds_environment_yml_and_no_dockerfile():
    for folder in (ROOT, ROOT / "binder", ROOT / ".binder"):
        assert not (folder / "Dockerfile").exists(), f"repo2docker would build {folder / 'Dockerfile'} instead"
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert "python=3.11" in env["dependencies"] and "pip" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(line.replace(" ", "").startswith("-e.[lab]") for line in pip), "the package itself, with its lab extras"


def test_the_recording_travels_with_the_package():
    """Binder has no engine: the recording must be in the repository, not only on the recording machine."""
    rec = ROOT / "data" / "recorded"
    meta = json.loads((rec / "meta.json").read_text())
    calls = {e["call"] for name in meta["notebooks"]
             for e in json.loads((rec / name.replace(".ipynb", ".json")).read_text())["entries"]}
    for needed in ("build", "run", "serve", "copy_out", "stat", "inspect", "history", "images", "save", "containers",
                   "run_script", "exists"):
        assert needed in calls
    tracked = subprocess.run(["git", "ls-files", "data/recorded"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "data/recorded/meta.json" in tracked and "data/recorded/volatile/" in tracked, "commit the recording"


def test_binder_gets_the_course_settings_and_recorded_mode(tmp_path):
    """postBuild puts the same overrides `make lab` uses where JupyterLab reads them; start selects recorded mode."""
    import os
    prefix = tmp_path / "prefix"
    subprocess.run(["./postBuild"], cwd=ROOT, env={**os.environ, "NB_PYTHON_PREFIX": str(prefix)}, check=True)
    installed = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    ours = ROOT / "jupyter" / "lab-settings" / "overrides.json"
    assert installed.read_text() == ours.read_text()
    assert json.loads(ours.read_text())["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    env = {k: v for k, v in os.environ.items() if k != "LABUTILS_MODE"}
    out = subprocess.run(["./start", "sh", "-c", "echo $LABUTILS_MODE"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "recorded"
    make = (ROOT / "Makefile").read_text()
    assert "--LabApp.app_settings_dir=$(LAB_SETTINGS)" in make and "LAB_SETTINGS := $(CURDIR)/jupyter/lab-settings" in make
    # the first start opens 00-setup; JupyterLab's layout is kept under work/ (the browser test checks both starts)
    assert "echo /lab/tree/$(FIRST_NOTEBOOK)" in make and "echo notebooks/00-setup.ipynb" in make
    assert "--LabApp.workspaces_dir=$(LAB_WORKSPACES)" in make
    # its terminals start in the course folder with the course's Python first (the terminal browser test types there)
    assert "--config=$(CURDIR)/jupyter/jupyter_lab_config.py" in make and 'COURSE_BIN="$(abspath $(BIN))"' in make
