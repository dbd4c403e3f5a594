"""`make lab` as a child process, for the browser test and the lab-start bench.

`make_lab` starts it on a free 127.0.0.1 port with a token, and on every exit path stops the whole
process group (make, JupyterLab and its kernels), so no server is left behind.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests


def free_port() -> int:
    """A port the kernel reports free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Lab:
    process: subprocess.Popen
    port: int
    token: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What `make lab` printed (read it once the process has stopped, or it blocks)."""
        return self.process.stdout.read() if self.process.stdout else ""

    def answers(self, *paths: str, timeout: float, every: float = 0.25) -> bool:
        """Whether every path answers with 200 (token given) within `timeout` s.

        Raises RuntimeError, with the end of make lab's output, if it stops first.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("make lab stopped:\n" + self.output()[-3000:])
            try:
                if all(requests.get(f"{self.base}{path}?token={self.token}", timeout=5).ok for path in paths):
                    return True
            except requests.RequestException:
                pass
            time.sleep(every)
        return False


@contextmanager
def make_lab(cwd: Path, env: dict, *, token: str, lab_args: str = "", make_args: tuple = ()):
    """Run `make lab` in `cwd` with `env`; yields a `Lab`, and stops the process group on exit."""
    port = free_port()
    process = subprocess.Popen(
        ["make", "lab", *make_args, f"LAB_ARGS=--no-browser --ip=127.0.0.1 --port={port} "
         f"--IdentityProvider.token={token} {lab_args}".rstrip()],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        yield Lab(process, port, token)
    finally:
        _stop_group(process)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (a zombie, waiting for init to reap it, does not count)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _stop_group(process: subprocess.Popen, seconds: float = 30) -> None:
    """SIGTERM to `make lab`'s whole process group, then SIGKILL to what is left of it after ``seconds``: make can
    exit while JupyterLab, its child, is still shutting down (it was seen to outlive the test by hours)."""
    if _group_alive(process.pid):
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + seconds
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    if _group_alive(process.pid):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(10)
