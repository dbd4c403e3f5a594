"""Benchmarks for the lab, side by side in one run; writes bench/results.md.

    .venv/bin/python bench/run.py            # about 15 minutes on 2 cores
    .venv/bin/python bench/run.py --quick    # fewer repeats, no live nbval suite
    .venv/bin/python bench/run.py --only platforms --out bench/platforms.md   # one section (notebook 08's)

Each figure is the median of several runs, with the spread (min to max). This
is a script, not a test: nothing here fails a build when a goal is missed; the
table says whether each goal was met.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import labutils as lu  # noqa: E402
from labutils import (
    bases,
    settings,  # noqa: E402
)
from labutils.backends.live import buildkit, engine
from labutils.course import approaches
from labutils.ops import standins

PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
NBVAL = ["-m", "pytest", "notebooks", "--nbval", "--nbval-sanitize-with", "notebooks/sanitize.cfg",
         "-p", "no:cacheprovider", "-q"]


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s ({min(values):.3f} to {max(values):.3f}, n={len(values)})"


def cli() -> str:
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SystemExit("no docker CLI: the CLI comparisons need one")


def docker_build(dockerfile: Path, folder: Path, tag: str, nocache: bool) -> None:
    """The same build through the docker CLI (classic builder), from a copy that names the stand-in."""
    cmd = [cli(), "build", "-q", "-t", tag, "-f", str(dockerfile), str(folder)] + (["--no-cache"] if nocache else [])
    env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_HOST=engine.engine_url())
    subprocess.run(cmd, check=True, capture_output=True, env=env)


def nbval(env: dict) -> None:
    proc = subprocess.run([PY, *NBVAL], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit("the notebook suite failed under the benchmark:\n" + proc.stdout[-3000:])


Row = tuple[str, str, str, str]          # what, result, goal, met


def build_vs_cli(n: int) -> list[Row]:
    """1. labutils build() vs docker build, warm and cold."""
    rows: list[Row] = []
    folder = lu.write_exercise("normal-build", show=False)
    lu.build(folder, "bench-welcome:v1", quiet=True)
    prepared = bases.prepare(folder / "Dockerfile", quiet=True)       # the CLI gets the stand-in copy, untimed
    try:
        for cache, nocache in (("warm", False), ("cold", True)):
            ours = timed(lambda nocache=nocache: lu.build(folder, "bench-welcome:v1", nocache=nocache, quiet=True), n)
            theirs = timed(lambda nocache=nocache: docker_build(prepared.path, folder, "bench-welcome:v1", nocache), n)
            ratio = statistics.median(ours) / statistics.median(theirs)
            goal = "at most 1.05" if cache == "warm" else "-"
            met = ("yes" if ratio <= 1.05 else "no") if cache == "warm" else "-"
            rows.append(say((f"labutils `build()` / `docker build` CLI, {cache}",
                             f"{ratio:.3f} (labutils {fmt(ours)}; CLI {fmt(theirs)})", goal, met)))
    finally:
        prepared.cleanup()
    return rows


def pattern_vs_multistage(n: int) -> list[Row]:
    """2. builder pattern vs multi-stage, cold and warm (same approach code as the summary notebook)."""
    rows: list[Row] = []
    bp_, ms = approaches.approach("builder pattern"), approaches.approach("multi-stage to scratch")
    for cache, nocache in (("cold", True), ("warm", False)):
        a = [approaches.build_approach(bp_, nocache=nocache)["seconds"] for _ in range(n)]
        b = [approaches.build_approach(ms, nocache=nocache)["seconds"] for _ in range(n)]
        rows.append(say((f"builder pattern / multi-stage, {cache}", f"{statistics.median(a) / statistics.median(b):.2f} "
                         f"(builder pattern {fmt(a)}; multi-stage {fmt(b)})", "-", "-")))
    bp_folder = lu.write_exercise("builder-pattern", show=False)
    script = timed(lambda: lu.run_script(bp_folder, "build.sh"), n) if engine.docker_cli() else []
    if script:
        rows.append(("the lab's build.sh itself (docker CLI, warm)", fmt(script), "-", "-"))
    return rows


def classic_vs_buildkit(n: int) -> list[Row]:
    """3. classic builder vs BuildKit."""
    if not buildkit.cli():
        return [("BuildKit / classic builder", "no docker CLI with BuildKit here", "-", "-")]
    ms, rows = approaches.approach("multi-stage to scratch"), []
    for cache, nocache in (("cold", True), ("warm", False)):
        c = [approaches.build_approach(ms, nocache=nocache)["seconds"] for _ in range(n)]
        k = [approaches.build_approach(ms, nocache=nocache, builder="buildkit")["seconds"] for _ in range(n)]
        rows.append(say((f"BuildKit / classic builder, multi-stage, {cache}",
                         f"{statistics.median(k) / statistics.median(c):.2f} (BuildKit {fmt(k)}; classic {fmt(c)})",
                         "-", "-")))
    return rows


def notebook_suite(n: int, quick: bool) -> list[Row]:
    """4. the notebook suite under nbval, recorded (no engine) and live (bases present).

    The notebooks print paths under the repository's work/, so the suite runs there, as `make test` does.
    """
    base_env = {k: v for k, v in os.environ.items() if k != "LABUTILS_WORK"}
    rec_env = dict(base_env, LABUTILS_MODE="recorded", DOCKER_HOST="unix:///nonexistent/bench.sock")
    rec = timed(lambda: nbval(rec_env), n)
    rows = [say(("nbval over every notebook, recorded mode", fmt(rec), "under 60 s",
                 "yes" if statistics.median(rec) < 60 else "no"))]
    if not quick:
        live = timed(lambda: nbval(dict(base_env, LABUTILS_MODE="live")), 3)
        rows.append(say(("nbval over every notebook, live, base images present", fmt(live), "under 5 minutes",
                         "yes" if statistics.median(live) < 300 else "no")))
    return rows


def standins_from_nothing(quick: bool) -> list[Row]:
    """5. the offline stand-ins from nothing: both debootstraps, then every recipe without any build cache."""
    def from_nothing():
        made = {bases.DEBIAN: standins.make_debian(quiet=True, tag="bench-debian:bookworm"),
                bases.BULLSEYE: standins.make_debian(quiet=True, tag="bench-debian:bullseye", suite="bullseye")}
        for sub in (bases.GOLANG, bases.ALPINE, bases.GOLANG_MUSL):
            recipe, base = bases.RECIPES[sub]
            made[sub] = f"bench-{sub.split(':')[0]}:{sub.split(':')[1]}"
            standins.make_from_dockerfile(made[sub], settings.settings().data / "bases" / recipe, "bench",
                                          quiet=True, base=made[base], nocache=True)
        return made
    made: dict = {}
    fresh = timed(lambda: made.update(from_nothing()), 1 if quick else 2)
    row = say(("`bases --offline` from nothing (debootstrap, no build cache)", fmt(fresh), "under 3 minutes",
               "yes" if statistics.median(fresh) < 180 else "no"))
    subprocess.run([cli(), "image", "rm", "-f", *made.values(), "bench-welcome:v1"], capture_output=True)
    return [row]


def cross_and_emulated(n: int) -> list[Row]:
    """6. one Dockerfile, two platforms: each platform's image beside its binary, then cross-compiled vs
    emulated cold builds (notebook 08's measurement), per workload and platform."""
    folder = lu.write_exercise("multi-platform", show=False)
    made = lu.build_platforms(folder, "bench-multi:v1", quiet=True)
    rows: list[Row] = []
    for r in lu.image_platforms(made, binary="/myapp/welcome").itertuples():
        rows.append(say((f"{r.platform} image / its binary ({r.machine})",
                         f"{r.size_bytes / r.binary_bytes:.3f} ({r.size_bytes:,} B / {r.binary_bytes:,} B)",
                         "at most 1.05", "yes" if r.size_bytes <= 1.05 * r.binary_bytes else "no")))
    times = lu.measure_platforms(folder, repeats=n, tag="bench-platforms")
    for r in lu.cross_vs_emulated(times).itertuples():
        sec = {way: times[(times["work"] == r.work) & (times["platform"] == r.platform) & (times["way"] == way)]
               ["seconds"].tolist() for way in ("cross", "emulated")}
        qemu = "emulated under QEMU" if r.under_qemu else "both native"
        rows.append(say((f"emulated / cross-compiled, {r.work}, {r.platform} ({qemu})",
                         f"{r.ratio:.2f} ({r.ratio_min:.2f} to {r.ratio_max:.2f}; cross {fmt(sec['cross'])}; "
                         f"emulated {fmt(sec['emulated'])})",
                         "above 1" if r.under_qemu and "GOFLAGS" in r.work else "-",
                         ("yes" if r.ratio_min > 1 else "no") if r.under_qemu and "GOFLAGS" in r.work else "-")))
    tags = [r.tag for r in made] + sorted(set(times["tag"]))
    subprocess.run([cli(), "image", "rm", "-f", *tags], capture_output=True, env=dict(os.environ, DOCKER_HOST=engine.engine_url()))
    return rows


SECTIONS = {"cli": lambda n, quick: build_vs_cli(n), "patterns": lambda n, quick: pattern_vs_multistage(n),
            "builders": lambda n, quick: classic_vs_buildkit(n), "notebooks": notebook_suite,
            "standins": lambda n, quick: standins_from_nothing(quick),
            "platforms": lambda n, quick: cross_and_emulated(2 if quick else 3)}


def say(row: Row) -> Row:
    print(row, flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append",
                        help="run only these sections (repeatable); the default is all of them")
    args = parser.parse_args()
    n = 3 if args.quick else 7
    os.environ["LABUTILS_WORK"] = tempfile.mkdtemp(prefix="labutils-bench-")
    os.environ.setdefault("LABUTILS_MODE", "live")
    version = engine.version()
    rows = [row for name in (args.only or SECTIONS) for row in SECTIONS[name](n, args.quick)]
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [f"Measured {date} on {os.cpu_count()} cores, Docker Engine {version.get('Version')} "
             f"(API {version.get('ApiVersion')}), offline stand-ins; `python bench/run.py{' --quick' if args.quick else ''}"
             f"{''.join(' --only ' + s for s in args.only or [])}`.",
             "", "| what | median (range, runs) | goal | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
