"""Fresh clone to a running lab, on an engine without the stand-ins; writes its rows into bench/results.md.

    python3 -m bench.lab_start             # 3 runs, about 8 minutes with the base images made after each
    python3 -m bench.lab_start --runs 1

Each run starts the engine matrix's overlay2 rig (Docker 28.5) empty: no base image, no stand-in, no build cache.
Then, timed: `git clone` of this checkout into a new folder, and `make lab` there, with empty pip and uv caches
(every package downloaded), until JupyterLab answers with 00-setup. After that the run goes on timing the base
images that `make lab` started in the background, until `labutils doctor` passes. A script, not a test: the table
says whether the goals (JupyterLab under 15 s, the bases under 90 s) were met.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from tools.labserver import make_lab  # run from the repository's root: python -m bench.lab_start

RIG = [sys.executable, "-m", "tools.engines"]
LAB_GOAL = 15.0         # fresh clone to JupyterLab serving 00-setup
BASES_GOAL = 90.0       # ... and every base image ready (labutils doctor passes)
BASES_LIMIT = 600.0


def _rig_env() -> dict:
    from tools import engines
    return engines.environment("overlay2")


def one_run(workdir: Path) -> dict:
    subprocess.run([*RIG, "down", "overlay2", "--purge"], check=True, capture_output=True)
    subprocess.run([*RIG, "up", "overlay2"], check=True, capture_output=True)
    env = dict(os.environ, **{k: v for k, v in _rig_env().items() if k == "DOCKER_HOST"},
               PIP_NO_CACHE_DIR="1", UV_CACHE_DIR=str(workdir / "uv-cache"))
    for name in ("LABUTILS_WORK", "LABUTILS_MODE", "VIRTUAL_ENV"):
        env.pop(name, None)
    clone = workdir / "clone"
    started = time.monotonic()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    lab_s = bases_s = None
    try:
        with make_lab(clone, env, token="bench") as lab:
            if lab.answers("/lab/tree/notebooks/00-setup.ipynb", "/api/contents/notebooks/00-setup.ipynb",
                           timeout=600 - (time.monotonic() - started)):
                lab_s = time.monotonic() - started
            doctor = [str(clone / ".venv" / "bin" / "python"), "-m", "labutils", "doctor"]
            while time.monotonic() - started < BASES_LIMIT:
                if subprocess.run(doctor, cwd=clone, env=env, capture_output=True).returncode == 0:
                    bases_s = time.monotonic() - started
                    break
                time.sleep(3)
    finally:
        subprocess.run(["pkill", "-f", f"{clone}/.venv/bin/python -m labutils bases"], capture_output=True)
    out = lab.output()
    installer = "uv" if re.search(r"installing \S* ?with uv", out) else "pip"
    return {"lab": lab_s, "bases": bases_s, "installer": installer,
            "background": "in the background" in out}


def fmt(values) -> str:
    return f"{statistics.median(values):.1f} s ({min(values):.1f} to {max(values):.1f}, n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    args = parser.parse_args()
    runs = []
    try:
        for i in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="labutils-lab-start-") as tmp:
                runs.append(one_run(Path(tmp)))
            print(f"run {i + 1}: {runs[-1]}", flush=True)
    finally:
        subprocess.run([*RIG, "down", "overlay2", "--purge"], capture_output=True)
    labs = [r["lab"] for r in runs if r["lab"] is not None]
    made = [r["bases"] for r in runs if r["bases"] is not None]
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    rows = [f"| fresh clone to a running lab (`git clone`, `make lab` until JupyterLab serves 00-setup; empty "
            f"engine, empty pip/uv caches, {runs[0]['installer']}) | {fmt(labs) if labs else 'did not start'} | "
            f"under {LAB_GOAL:.0f} s | {'yes' if labs and statistics.median(labs) < LAB_GOAL else 'no'} |",
            f"| ... and the base images made in the background, until `labutils doctor` passes | "
            f"{fmt(made) if made else f'not within {BASES_LIMIT:.0f} s'} | under {BASES_GOAL:.0f} s | "
            f"{'yes' if made and statistics.median(made) < BASES_GOAL else 'no'} |"]
    section = (f"\n## Fresh clone to a running lab\n\nMeasured {date} on {os.cpu_count()} cores with "
               f"`python3 -m bench.lab_start --runs {args.runs}`: the engine is Docker 28.5 (the overlay2 rig of "
               "`tools/engines.py`), started empty for each run.\n\n| what | median (range, runs) | goal | met |\n"
               "|---|---|---|---|\n" + "\n".join(rows) + "\n")
    path = Path(args.out)
    text = path.read_text() if path.exists() else ""
    text = re.sub(r"\n## Fresh clone to a running lab\n.*?(?=\n## |\Z)", "", text, flags=re.S)
    path.write_text(text.rstrip("\n") + "\n" + section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
