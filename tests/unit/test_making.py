"""Base images made in the background (make lab): whoever needs them waits, with the job's progress shown."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from labutils.bases import background

HOLDER = textwrap.dedent("""
    import fcntl, sys, time
    lock, log = sys.argv[1], sys.argv[2]
    with open(lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with open(log, "a") as out:
            out.write("debootstrap bullseye ...\\n"); out.flush()
            print("locked", flush=True)
            time.sleep(2)
            out.write("labutils-golang:1.15 built\\n"); out.flush()
""")


def test_wait_follows_the_background_job_until_it_ends(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path))
    assert not background.running() and background.wait() is False, "nothing to wait for: returns at once"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / ".bases.lock"),
                               str(background.log_file())], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    assert background.running()
    started = time.monotonic()
    assert background.wait(poll=0.2, why="the stand-in labutils-golang:1.15") is True
    waited = time.monotonic() - started
    holder.wait(10)
    out = capsys.readouterr().out
    assert waited > 1.0, "it waited for the job, not a fixed time"
    assert "Waiting for the stand-in labutils-golang:1.15: `make lab` is making the base images" in out, out
    assert "debootstrap bullseye ..." in out and "labutils-golang:1.15 built" in out, out
    holder.wait(10)
    assert not background.running()


def test_holding_takes_the_lock_after_the_other_maker(tmp_path, monkeypatch):
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / ".bases.lock"),
                               str(background.log_file())], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with background.holding():
        assert "built" in background.log_file().read_text(), "the lock is only had once the other maker is done"
        probe = subprocess.run([sys.executable, "-c", "from labutils.bases import background; print(background.running())"],
                               env={"LABUTILS_WORK": str(tmp_path), "PATH": "/usr/bin:/bin"},
                               capture_output=True, text=True, cwd=str(background.settings().data.parent))
        assert probe.stdout.strip() == "True", probe.stderr
    holder.wait(10)
    assert not background.running()
