"""Hostile input, faults and a shared engine, tried on the real engine: nothing lost, nothing touched that is
not labutils' own. Each test is one row of the README's "Faults and bad input" table."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from shared import ROOT

import labutils as lu
from labutils import errors, settings, util


def test_two_writers_of_progress_lose_nothing(tmp_path):
    code = ("import sys, labutils.course.progress as t\n"
            "for i in range(100): t.note(f'{sys.argv[1]}-{i}: x', True)\n")
    env = dict(os.environ, LABUTILS_WORK=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", code, who], env={**env, "LABUTILS_NOTEBOOK": who})
             for who in ("one", "two")]
    assert all(p.wait(120) == 0 for p in procs)
    kept = json.loads((tmp_path / "progress.json").read_text())
    assert sum(len(v) for v in kept.values()) == 200


def test_reset_refuses_a_folder_labutils_did_not_make(tmp_path):
    own = tmp_path / "mine"
    own.mkdir()
    (own / "thesis.txt").write_text("years of work\n")
    (own / "results.csv").write_text("my own numbers\n")
    env = dict(os.environ, LABUTILS_WORK=str(own), LABUTILS_MODE="recorded")
    proc = subprocess.run([sys.executable, "-m", "labutils", "reset"], env=env, capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 2 and "was not made by labutils" in proc.stderr
    assert sorted(p.name for p in own.iterdir()) == ["results.csv", "thesis.txt"]
    made = tmp_path / "made"
    env["LABUTILS_WORK"] = str(made)
    subprocess.run([sys.executable, "-c", "import labutils as lu; lu.write_exercise('normal-build', show=False)"],
                   env=env, check=True, cwd=ROOT)
    (made / "thesis.txt").write_text("mine\n")
    subprocess.run([sys.executable, "-m", "labutils", "reset"], env=env, check=True, cwd=ROOT, capture_output=True)
    assert sorted(p.name for p in made.iterdir()) == [".labutils-work", "thesis.txt"]


def test_reserved_namespaces_are_refused(monkeypatch):
    for name in ("library", "docker.io"):
        monkeypatch.setenv("LABUTILS_NAMESPACE", name)
        with pytest.raises(errors.SettingsError, match="reserves"):
            settings.settings()


def test_a_lab_error_shows_in_ipython_as_a_message():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    shell = InteractiveShell.instance()
    with capture_output() as captured:
        shell.run_cell("import labutils as lu\nlu.build('/nonexistent-folder', 'x:v1')")
    text = captured.stdout + captured.stderr
    assert "InvalidArgument" in text and "is not a folder" in text and "What to do" in text
    assert "labutils/building.py" not in text and "Traceback" not in text
    try:
        lu.build("/nonexistent-folder", "x:v1")
    except lu.LabError as exc:                      # outside IPython it is a normal exception with its frames
        assert exc.__traceback__ is not None


def test_large_files_are_hashed_in_chunks(tmp_path, monkeypatch):
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(64 << 20)
    reads = []
    real_open = open

    class Spy:
        def __init__(self, fh):
            self.fh = fh

        def read(self, n=-1):
            reads.append(n)
            return self.fh.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

    monkeypatch.setattr(util, "open", lambda p, m="r": Spy(real_open(p, m)), raising=False)
    util.file_digest(big)
    assert reads and max(reads) <= 1 << 20 and -1 not in reads
