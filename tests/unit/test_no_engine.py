"""Bad input, and what needs no engine: these run anywhere, with or without Docker."""
from __future__ import annotations

import subprocess
import sys

import pytest

import labutils as lu
from labutils import errors

T = "lutest-"




# --- bad input: a clear error, nothing lost ---------------------------------

def test_wrong_target_names_the_stages(live, exercise):
    folder = exercise("multi-stage")
    with pytest.raises(errors.BuildFailed, match="no stage") as info:
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
    code = ("import labutils as lu\nfrom labutils import errors\n"
            "try:\n    lu.images()\n"
            "except errors.EngineUnavailable as e:\n    print('OK', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"DOCKER_HOST": f"unix://{tmp_path}/dead.sock", "PATH": "/usr/bin:/bin",
                               "LABUTILS_MODE": mode, "LABUTILS_RECORDING": str(tmp_path / "no-recording")},
                          timeout=60)
    assert proc.stdout.startswith("OK"), proc.stderr
    assert "dead.sock" in proc.stdout and "DOCKER_HOST" in proc.stdout and "recorded" in proc.stdout


def test_compare_puts_the_book_beside_our_rows(monkeypatch, tmp_path):
    from labutils.course import book
    from labutils.ops import runlog
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path))
    monkeypatch.setattr(runlog, "describe", lambda: {"mode": "live", "engine_version": "test"})
    runlog.log_row("build", "welcome:v1", exercise="normal-build", seconds=1.0, size_bytes=10, steps_run=5,
                   steps_cached=0, builder="classic")
    row = book.compare().iloc[0]
    assert (row.book_mb, row.approach, row.cache) == (805, "normal build", "cold")
