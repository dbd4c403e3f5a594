"""BuildKit, through a docker CLI: find one, run ``docker build --progress=plain``, read its log.

``run()`` streams a build; ``labutils.docker.buildlog.Vertices`` reads its log, live or recorded.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from functools import cache
from pathlib import Path

from labutils.backends.live.engine import on_reset
from labutils.docker.buildlog import Vertices
from labutils.util import strip_ansi

# "[builder 3/5]", "[2/2]", and in a build of several platforms "[linux/arm64 builder 3/5]"


@on_reset
def _forget():
    cli.cache_clear()


@cache
def cli() -> str | None:
    """A docker CLI that builds with BuildKit: a client before 23.0 (built in, with
    DOCKER_BUILDKIT=1) or a newer one with the buildx plugin; None if there is none."""
    seen = []
    for candidate in (shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"):
        if not candidate or candidate in seen or not Path(candidate).is_file():
            continue
        seen.append(candidate)
        try:
            out = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=20).stdout
            found = re.search(r"version (\d+)\.", out)
            major = int(found.group(1)) if found else 0
            if major < 23:
                return candidate
            if subprocess.run([candidate, "buildx", "version"], capture_output=True, timeout=20).returncode == 0:
                return candidate
        except (OSError, AttributeError, ValueError, subprocess.SubprocessError):
            continue
    return None


def run(exe: str, *, host: str, context: str, tag: str, dockerfile: str, target, nocache: bool,
        buildargs: dict, labels: dict, on_line, platform: str | None = None) -> dict:
    """Run one BuildKit build through ``exe``; ``on_line(text, t)`` gets each line as it arrives."""
    cmd = [exe, "build", "--progress=plain", "-t", tag, "-f", dockerfile]
    cmd += ["--platform", platform] if platform else []
    cmd += ["--target", target] if target else []
    cmd += ["--no-cache"] if nocache else []
    for k, v in buildargs.items():
        cmd += ["--build-arg", f"{k}={v}"]
    for k, v in labels.items():
        cmd += ["--label", f"{k}={v}"]
    cmd.append(context)
    env = dict(os.environ, DOCKER_BUILDKIT="1", DOCKER_CLI_HINTS="false", DOCKER_HOST=host)
    lines, times = [], []
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    try:
        for text in proc.stdout:
            text = strip_ansi(text.rstrip("\n"))
            t = round(time.perf_counter() - start, 3)
            lines.append(text)
            times.append(t)
            on_line(text, t)
        proc.wait()
    except KeyboardInterrupt:
        proc.kill()
        proc.wait()
        raise
    v = Vertices()
    for text in lines:
        v.line(text)
    failing = v.failing()
    error = None
    if proc.returncode != 0:
        error = (failing or {}).get("error") or next((t for t in reversed(lines) if t.strip()), "failed")
    return {"log": lines, "times": times, "image_id": v.image_id, "error": error, "exit_code": proc.returncode,
            "seconds": round(time.perf_counter() - start, 3)}
