"""Best practices, each measured (notebook 07): images down to the size of their binary, and the book's list.

The Dockerfiles live in ``data/exercises/best-practices/``; the Go programs are
the lab's own (``work/normal-build/welcome.go``, ``work/activity/main.go``), so
each step builds exactly what the lab built, changed one flag at a time.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from labutils.course.behaviour import behaves
from labutils.course.exercises import write_exercise
from labutils.docker.buildcontext import entries
from labutils.ops.build import build
from labutils.ops.containers import file_size, run
from labutils.util import human_size

STATIC = {"CGO_ENABLED": "0"}
STRIPPED = {**STATIC, "LDFLAGS": "-s -w"}
TRIMMED = {**STRIPPED, "TRIMPATH": "-trimpath"}

# (step, exercise folder with the program, build args); each adds one change to the one before
FLOOR = {
    "welcome": [
        ("as the lab builds it (scratch)", {}),
        ("static: CGO_ENABLED=0", STATIC),
        ("stripped: -ldflags='-s -w'", STRIPPED),
        ("trimmed paths: -trimpath", TRIMMED),
        ("the same binary on the alpine stand-in", {**TRIMMED, "BASE": "alpine:latest"}),
    ],
    "server": [
        ("the activity's solution (static, alpine)", {**STATIC, "BASE": "alpine:latest"}),
        ("on scratch", STATIC),
        ("stripped: -ldflags='-s -w'", STRIPPED),
        ("trimmed paths: -trimpath", TRIMMED),
    ],
}
PROGRAMS = {"welcome": "normal-build", "server": "activity"}

GO119_FLOOR = {"welcome": 1_212_416, "server": 4_460_544}
"""The floor binaries (static, -s -w, -trimpath) from Debian bookworm's Go 1.19, measured by this
project on 2026-11-28 on Docker 20.10 with the earlier golang stand-in."""


def floors(**tables: pd.DataFrame) -> pd.DataFrame:
    """The floor (the trimmed binary) of each program here, beside Go 1.19's measured floor."""
    rows = []
    for program, table in tables.items():
        here = int(table.set_index("step").loc["trimmed paths: -trimpath", "binary_bytes"])
        rows.append({"program": program, "floor here (bytes)": here, "Go 1.19 floor (bytes)": GO119_FLOOR[program],
                     "here / Go 1.19": round(here / GO119_FLOOR[program], 2)})
    return pd.DataFrame(rows)


def dockerfile(name: str) -> Path:
    """A best-practices Dockerfile, written into work/best-practices/ (yours is kept if you changed it)."""
    return write_exercise("best-practices", name, show=False) / name


def _works(program: str, tag: str) -> bool:
    return behaves(tag, PROGRAMS[program]).ok


def to_the_floor(program: str = "welcome") -> pd.DataFrame:
    """Build ``program`` one step at a time towards the floor; one row per step.

    ``ratio`` is image size / binary size: 1.00 means the image is the binary and nothing else.
    """
    folder = write_exercise(PROGRAMS[program], show=False)
    df = dockerfile("Dockerfile.floor")
    rows = []
    for i, (step, args) in enumerate(FLOOR[program]):
        tag = f"floor-{program}:{i}"
        result = build(folder, tag, dockerfile=str(df), buildargs=args, quiet=True)
        binary = file_size(tag, "/app")
        rows.append({"step": step, "tag": tag, "image_bytes": result.size, "binary_bytes": binary,
                         "image": human_size(result.size), "ratio": round(result.size / binary, 2),
                         "runs": _works(program, tag)})
    out = pd.DataFrame(rows)
    out["vs first step"] = (out["image_bytes"] / out["image_bytes"].iloc[0]).round(2)
    return out


def publish(folder, dockerfile: str, version: str) -> None:
    """Play the base image's publisher: build ``demo-base:<version>`` and move ``demo-base:latest`` to it."""
    for tag in (f"demo-base:{version}", "demo-base:latest"):
        build(folder, tag, dockerfile=dockerfile, quiet=True)


def pinned_and_unpinned(folder) -> dict:
    """Build the pinned and the unpinned Dockerfile again and say what each image prints."""
    return {name: run(build(folder, f"demo-{name}:v1", dockerfile=f"Dockerfile.{name}", quiet=True).tag).stdout
            for name in ("pinned", "unpinned")}


def context_bytes(folder, dockerfile_name: str = "Dockerfile") -> int:
    """Bytes of the build context the client sends (after .dockerignore), as docker-py computes it."""
    folder = Path(folder)
    return sum((folder / p).stat().st_size for p, kind in entries(folder, dockerfile_name).items() if kind == "file")


def layer_count(result) -> int:
    """Filesystem layers of a built image (``RootFS.Layers``)."""
    return result.layer_count


def junk_file(folder, size: int = 50_000_000, name: str = "junk.bin") -> Path:
    """A large file nobody needs in the image, as a forgotten download or data dump would be."""
    path = Path(folder) / name
    if not path.exists() or path.stat().st_size != size:
        with open(path, "wb") as fh:
            fh.write(os.urandom(size))
    return path
