"""BuildKit, through a docker CLI: find one, run ``docker build --progress=plain``, read its log.

``run()`` is the live half; ``Vertices`` reads a log, live or recorded.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from functools import cache
from pathlib import Path

from .engine import on_reset
from .util import strip_ansi

_VERTEX = re.compile(r"^#(\d+) \[(?P<label>[^\]]+)\] (?P<text>.*)$")
_DONE = re.compile(r"^#(\d+) DONE (\d+(?:\.\d+)?)s$")
_CACHED = re.compile(r"^#(\d+) CACHED$")
_ERROR = re.compile(r"^#(\d+) ERROR:? ?(.*)$")
_OUTPUT = re.compile(r"^#(\d+) (?:\d+\.\d+ )?(.*)$")
_WROTE = re.compile(r"writing image (sha256:[0-9a-f]{64})")
# "[builder 3/5]", "[2/2]", and in a build of several platforms "[linux/arm64 builder 3/5]"
_STEP_LABEL = re.compile(r"^(?:[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)? )?(?:(?P<stage>\S+) )?(?P<n>\d+)/(?P<of>\d+)$")


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


class Vertices:
    """BuildKit's plain progress, vertex by vertex: steps with stage, seconds and cache hits."""

    def __init__(self):
        self.order: list[str] = []
        self.v: dict[str, dict] = {}
        self.image_id = None

    def line(self, text: str) -> None:
        m = _VERTEX.match(text)
        if m and m.group(1) not in self.v:
            step = _STEP_LABEL.match(m.group("label"))
            self.v[m.group(1)] = {"step": bool(step), "stage": (step.group("stage") or "") if step else "",
                                  "instruction": m.group("text").strip(), "seconds": 0.0, "cached": False,
                                  "error": None, "lines": []}
            self.order.append(m.group(1))
            return
        wrote = _WROTE.search(text)
        if wrote:
            self.image_id = wrote.group(1)
        for pattern, apply in ((_DONE, lambda v, g: v.update(seconds=float(g))),
                               (_CACHED, lambda v, g: v.update(cached=True)),
                               (_ERROR, lambda v, g: v.update(error=g or "failed"))):
            m = pattern.match(text)
            if m and m.group(1) in self.v:
                apply(self.v[m.group(1)], m.group(2) if m.lastindex and m.lastindex > 1 else None)
                return
        m = _OUTPUT.match(text)
        if m and m.group(1) in self.v and not text.split(" ", 2)[1].startswith("sha256:"):
            self.v[m.group(1)]["lines"].append(m.group(2))

    def steps(self) -> list[dict]:
        out: list[dict] = []
        for key in self.order:
            v = self.v[key]
            if v["step"]:
                out.append({"number": len(out) + 1, "instruction": v["instruction"], "seconds": v["seconds"],
                            "cached": v["cached"], "lines": v["lines"], "stage": v["stage"]})
        return out

    def failing(self) -> dict | None:
        return next((self.v[k] for k in self.order if self.v[k]["error"]), None)


def steps(lines) -> tuple[list[dict], dict | None]:
    """The steps of a BuildKit log and the failing vertex (None when the build worked)."""
    v = Vertices()
    for text in lines:
        v.line(text)
    return v.steps(), v.failing()
