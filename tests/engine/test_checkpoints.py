"""The notebooks' checkpoints fail, with a useful message, when the lesson's result is wrong.

A learner's broken file in work/ is kept by write_exercise, so running the
notebook on it must end in CheckpointFailed naming the fix.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
pytestmark = [pytest.mark.engine, pytest.mark.one_engine]


def _execute(name: str, work: Path):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABUTILS_WORK", str(work))
        NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def _broken(work: Path, exercise: str, name: str, old: str, new: str) -> Path:
    """A learner's copy of one lab file, with one mistake in it."""
    (work / exercise).mkdir()
    src = (NOTEBOOKS.parent / "data" / "exercises" / exercise / name).read_text()
    assert old in src
    (work / exercise / name).write_text(src.replace(old, new))
    return work / exercise


def test_a_fat_final_stage_fails_the_multi_stage_checkpoint(live, tmp_path):
    folder = _broken(tmp_path, "multi-stage", "Dockerfile", "FROM scratch", "FROM golang:1.15.6")
    with pytest.raises(CellExecutionError) as info:
        _execute("04-multi-stage.ipynb", tmp_path)
    text = str(info.value)
    assert "CheckpointFailed" in text and "one Dockerfile gives a small image" in text
    assert "FROM scratch" in text                       # the fix it names
    assert "FROM golang:1.15.6" in (folder / "Dockerfile").read_text(), "the learner's file was kept"


def test_a_cgo_binary_fails_the_activity_checkpoint(live, tmp_path):
    _broken(tmp_path, "activity", "Dockerfile.solution", "CGO_ENABLED=0 go build", "go build")
    with pytest.raises(CellExecutionError) as info:
        _execute("05-activity-go-http-server.ipynb", tmp_path)
    text = str(info.value)
    assert "no such file or directory" in text and "CGO_ENABLED=0" in text
