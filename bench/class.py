#!/usr/bin/env python3
"""What a class costs on this machine: sign-in, an idle learner's memory, and learners working at once.

    .venv/bin/python bench/class.py [--sizes 1,2,4,6] [--out bench/class.md]

Opens a class of its own (CLASS_NAME=labutils-bench-class, ports of its own) with `python -m labutils.classroom`, drives
it as learners do (the hub's login page, the Jupyter server's API), writes a Markdown table, and takes the
class down with its volumes. Every figure is measured here; the last rows are arithmetic on them.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from labutils.classroom.hub import Hub  # noqa: E402

NAME = "labutils-bench-class"
BASES = ("golang:1.15.6", "alpine:latest")
CODE = "bench-class-code"          # JupyterHub wants a class code of 8 characters or more


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mem_bytes(container: str) -> int:
    """The container's memory use as the engine counts it (cgroup v1: usage less page cache)."""
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{json .}}", container],
                         capture_output=True, text=True).stdout
    used = json.loads(out)["MemUsage"].split("/")[0].strip()
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "B": 1}
    for unit, factor in units.items():
        if used.endswith(unit):
            return int(float(used[: -len(unit)]) * factor)
    return 0


class Peak:
    """The most memory a set of containers used together while a block ran (sampled every second)."""

    def __init__(self, containers: list[str]):
        self.containers, self.peak, self._stop = containers, 0, threading.Event()

    def __enter__(self):
        def sample():
            while not self._stop.is_set():
                self.peak = max(self.peak, sum(mem_bytes(c) for c in self.containers))
                self._stop.wait(1)
        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def pull_bases(hub: Hub, name: str) -> float:
    started = time.monotonic()
    ran = hub.lab(name).run("import subprocess\n" + "".join(
        f"subprocess.run(['docker', 'pull', '-q', '{b}'], check=True, capture_output=True)\n" for b in BASES))
    assert ran.ok, ran
    return time.monotonic() - started


COLD = """
import subprocess, labutils as lu
lu.clean()                                                      # the lab's images; the bases stay
subprocess.run(["docker", "builder", "prune", "-af"], check=True, capture_output=True)
"""


def notebook_04(hub: Hub, name: str) -> float:
    """Notebook 04 from a cold cache: a learner's earlier run must not make the next one a cache hit."""
    cold = hub.lab(name).run(COLD)
    assert cold.ok, (name, cold)
    started = time.monotonic()
    ran = hub.lab(name).run_notebook("notebooks/04-multi-stage.ipynb", timeout=1800)
    assert ran.ok, (name, ran.error, ran.cell)
    return time.monotonic() - started


def measure(url: str, sizes: list[int]) -> list[tuple[str, str]]:
    """Every row of the table, from an open class at ``url``."""
    rows: list[tuple[str, str]] = []
    learners = [f"learner{i}" for i in range(max(sizes))]
    hubs = {}
    cold, warm, pulls = [], [], []
    for name in learners:                       # first sign-in: a new container, a new engine, bases pulled
        started = time.monotonic()
        hubs[name] = Hub.sign_in(url, name, f"{name}-bench-pw", code=CODE)   # the first time: claims the name
        hubs[name].start(name)
        cold.append(time.monotonic() - started)
        pulls.append(pull_bases(hubs[name], name))
    rows.append(("sign-in to a ready lab, first time (container and engine made)", spread(cold)))
    rows.append(("the lab's bases pulled from the class registry (golang 826 MB, alpine)", spread(pulls)))
    for name in learners[:3]:                   # again: the container made anew, the engine's volume kept
        hubs[name].stop(name)
        started = time.monotonic()
        hubs[name].start(name)
        warm.append(time.monotonic() - started)
    rows.append(("sign-in to a ready lab again (its engine already has the bases)", spread(warm)))
    time.sleep(15)
    idle = [mem_bytes(f"{NAME}-lab-{n}") for n in learners]
    rows.append(("memory of one idle learner (JupyterLab and rootless engine)",
                 spread([b / 2**20 for b in idle], "MiB")))
    alone = 0.0
    peaks, slowdown = {}, {}
    for n in sizes:
        group = learners[:n]
        with Peak([f"{NAME}-lab-{g}" for g in group]) as peak, ThreadPoolExecutor(n) as pool:
            times = list(pool.map(lambda g: notebook_04(hubs[g], g), group))
        peaks[n] = peak.peak
        alone = alone or statistics.median(times)
        slowdown[n] = statistics.median(times) / alone
        rows.append((f"{n} learner(s) running notebook 04 (build, your turn) at once: seconds each",
                     f"{spread(times)}; {slowdown[n]:.2f}× one alone; peak {peak.peak / 2**30:.2f} GiB together"))
    cores = os.cpu_count() or 1
    per_learner_gib = max(peaks[n] / n for n in peaks) / 2**30
    # CPU: how many learners build at once on this machine within twice the time of one alone, per core
    fits = max([n for n in sizes if slowdown[n] <= 2.0] or [1])
    by_cpu = fits / cores * 16
    by_mem = 64 / max(per_learner_gib, statistics.median(idle) / 2**30)
    rows.append(("learners per 16-core / 64 GB machine, on paper",
                 f"{'at least ' if fits == max(sizes) else ''}{min(by_cpu, by_mem):.0f} building at once "
                 f"(CPU: {fits} within 2× of alone on {cores} cores{', the most tried' if fits == max(sizes) else ''} "
                 f"→ {by_cpu:.0f}; memory: {per_learner_gib:.2f} GiB each at peak → {by_mem:.0f}); "
                 f"idle labs: {64 / (statistics.median(idle) / 2**30):.0f} by memory"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,2,4,6")
    parser.add_argument("--out", default=str(ROOT / "bench" / "class.md"))
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    state = Path(f"/var/tmp/{NAME}")
    env = dict(os.environ, CLASS_NAME=NAME, CLASS_STATE=str(state), CLASS_PORT=str(free_port()),
               CLASS_HUB_PORT=str(free_port()), CLASS_PROXY_API_PORT=str(free_port()),
               CLASS_REGISTRY_PORT=str(free_port()), CLASS_CODE=CODE, CLASS_MAX_LEARNERS=str(max(sizes) + 1))
    classroom = [sys.executable, "-m", "labutils.classroom"]
    subprocess.run([*classroom, "up"], env=env, check=True)
    url = f"http://127.0.0.1:{env['CLASS_PORT']}"
    try:
        rows = measure(url, sizes)
    finally:
        subprocess.run([*classroom, "down", "--purge"], env=env)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [f"Measured {date} on {os.cpu_count()} cores, the host's Docker Engine with a rootless Docker 20.10 "
             "per learner; `.venv/bin/python bench/class.py` (median, range, runs).", "", "| what | measured |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def spread(values: list[float], unit: str = "s") -> str:
    return (f"{statistics.median(values):.1f} {unit} ({min(values):.1f}–{max(values):.1f}, {len(values)})"
            if values else "-")


if __name__ == "__main__":
    sys.exit(main())
