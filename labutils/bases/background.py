"""Base images being made in the background: ``make lab`` starts it, builds and notebook 00 wait for it.

``python -m labutils bases --offline --background`` starts the stand-ins in a
process of their own (its output in ``work/bases.log``) so that JupyterLab can
open at once. Whoever makes base images holds one lock (``work/.bases.lock``);
a build that needs a stand-in which is not there yet, while the lock is held,
waits for it and shows the log's progress, instead of failing.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from contextlib import contextmanager

from labutils.settings import settings, work_dir


def _lock_path():
    return settings().work / ".bases.lock"


def log_file():
    """Where the background job writes what it does (``work/bases.log``)."""
    return settings().work / "bases.log"


def running() -> bool:
    """True while another process is making base images (it holds the lock)."""
    path = _lock_path()
    if not path.exists():
        return False
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def wait(*, quiet: bool = False, why: str = "", poll: float = 2.0) -> bool:
    """Wait while base images are made in the background, printing the log's new lines; True if it waited."""
    if not running():
        return False
    log = log_file()
    if not quiet:
        print(f"[labutils] Waiting for {why or 'the base images'}: `make lab` is making the base images in the "
              f"background. Progress, from {log}:", flush=True)
    seen = log.stat().st_size if log.exists() else 0
    seen = max(0, seen - 2000)          # the last lines so far, then every new one
    while running():
        seen = _show_new(log, seen, quiet)
        time.sleep(poll)
    _show_new(log, seen, quiet)
    if not quiet:
        print("[labutils] The background job has finished.", flush=True)
    return True


def _show_new(log, seen: int, quiet: bool) -> int:
    try:
        with open(log, "rb") as fh:
            fh.seek(seen)
            new = fh.read()
    except OSError:
        return seen
    if new and not quiet:
        for line in new.decode(errors="replace").splitlines():
            if line.strip():
                print(f"    {line}", flush=True)
    return seen + len(new)


@contextmanager
def holding():
    """Hold the base-image lock while making them (waiting, with progress, for any other maker first)."""
    path = _lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            wait()            # a minute or more: always shown, even for a quiet caller
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def start(args: list[str]) -> int:
    """Start ``python -m labutils bases <args>`` in its own session, writing to ``work/bases.log``; its pid.

    It returns once the child holds the lock, so that anything started next sees it running.
    """
    log = log_file()
    work_dir()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "labutils", "bases", *args], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for _ in range(300):
        if running() or proc.poll() is not None:
            break
        time.sleep(0.1)
    return proc.pid
