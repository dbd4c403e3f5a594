"""The lab's approaches side by side: build each, time it cold and warm, compare with the book (notebook 06).

The summary notebook and ``python -m labutils run-all`` both use this module,
so the instructor's one command and the learner's notebook measure the same way.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import pandas as pd

from labutils.backends import backend, from_recording, tag_recorded
from labutils.course.book import BOOK_PLATFORM, beside_book
from labutils.course.exercises import write_exercise
from labutils.errors import InvalidArgument
from labutils.ops.build import build
from labutils.ops.containers import copy_out
from labutils.ops.images import image_exists, image_size
from labutils.util import human_size


@dataclass(frozen=True)
class Approach:
    """One way the lab ships the welcome program (or the activity's server)."""
    name: str
    exercise: str
    tag: str
    dockerfile: str = "Dockerfile"
    builder_dockerfile: str | None = None   # the builder pattern's first image

    @property
    def builder_tag(self) -> str | None:
        return self.tag.replace("-runtime", "-builder") if self.builder_dockerfile else None


APPROACHES = (
    Approach("normal build", "normal-build", "welcome:v1"),
    Approach("builder pattern", "builder-pattern", "welcome-runtime:v1", builder_dockerfile="Dockerfile.build"),
    Approach("multi-stage to scratch", "multi-stage", "welcome-optimized:v1"),
    Approach("multi-stage to alpine", "multi-stage-intro", "multi-stage:v1"),
    Approach("activity (multi-stage to alpine)", "activity", "activity:v1", dockerfile="Dockerfile.solution"),
)


def approach(name: str) -> Approach:
    for a in APPROACHES:
        if a.name == name:
            return a
    raise InvalidArgument(f"There is no approach {name!r}.", hint=f"use one of {[a.name for a in APPROACHES]}.")


def build_approach(a: Approach, nocache: bool = False, builder: str = "classic") -> dict:
    """Build one approach the way its exercise does; one tidy row.

    The builder pattern counts its whole chain: the builder image, copying the
    binary out to the host, and the runtime image (what build.sh does).
    """
    folder = write_exercise(a.exercise, show=False)
    results = []
    if a.builder_dockerfile and a.builder_tag:
        results.append(build(folder, a.builder_tag, dockerfile=a.builder_dockerfile, nocache=nocache, quiet=True,
                             builder=builder))
        start = time.perf_counter()
        binary = copy_out(a.builder_tag, "/myapp/welcome", folder)
        copy_seconds = time.perf_counter() - start
    else:
        copy_seconds = 0.0
    try:
        results.append(build(folder, a.tag, dockerfile=a.dockerfile, nocache=nocache, quiet=True, builder=builder))
    finally:
        if a.builder_dockerfile:
            binary.unlink(missing_ok=True)   # build.sh ends with: rm welcome
    final = results[-1]
    return {"approach": a.name, "tag": a.tag, "builder": builder, "cache": "cold" if nocache else "warm",
            "seconds": round(sum(r.seconds for r in results) + copy_seconds, 3),
            "size_bytes": final.size, "builds": len(results),
            "steps_run": sum(r.steps_run for r in results),
            "steps_cached": sum(r.steps_cached for r in results), "store": final.store}


def measure(repeats: int = 3, approaches=APPROACHES, *, builder: str = "classic", quiet: bool = False) -> pd.DataFrame:
    """Build every approach ``repeats`` times cold (no build cache) and warm (all cached).

    One row per build: approach, tag, builder, cache, repeat, seconds, size_bytes, steps.

    Args:
        repeats: builds of each approach, cold and warm.
        approaches: the approaches to build (default: the lab's five).
        builder: ``"classic"`` or ``"buildkit"``.
        quiet: print nothing while it builds.

    Example:
        >>> times = lu.measure(repeats=3)
        >>> lu.summary(times)
    """
    if repeats < 1:
        raise InvalidArgument(f"repeats={repeats} builds nothing.", hint="pass repeats=1 or more.")
    rows = []
    for a in approaches:
        for i in range(repeats):
            for nocache in (True, False):
                row = dict(build_approach(a, nocache=nocache, builder=builder), repeat=i + 1)
                rows.append(row)
        if not quiet:
            mine = [r for r in rows if r["approach"] == a.name]
            cold = statistics.median(r["seconds"] for r in mine if r["cache"] == "cold")
            warm = statistics.median(r["seconds"] for r in mine if r["cache"] == "warm")
            print(f"{a.name}: {human_size(mine[-1]['size_bytes'])}, median {builder} build {cold:.2f} s cold, "
                  f"{warm:.2f} s warm ({repeats} each)", flush=True)
    return tag_recorded(pd.DataFrame(rows))


def spread(times: pd.DataFrame) -> pd.DataFrame:
    """Median, min, max and spread (max - min) of the build seconds per approach and cache."""
    g = times.groupby(["approach", "cache"], sort=False)["seconds"]
    out = g.agg(n="count", median="median", min="min", max="max").reset_index()
    out["spread"] = out["max"] - out["min"]
    return out.round(3)


def summary(times: pd.DataFrame) -> pd.DataFrame:
    """One row per approach: image size as Docker shows it, the book's size, and build times."""
    s = spread(times).pivot(index="approach", columns="cache", values="median")
    rows = []
    for name, group in times.groupby("approach", sort=False):
        size = int(group["size_bytes"].iloc[-1])
        tag = group["tag"].iloc[-1]
        rows.append({"approach": name, "image": tag, "size": human_size(size), "size_bytes": size,
                     **beside_book(tag, size, _store(group), backend().describe()["os_arch"] or BOOK_PLATFORM),
                     "cold build s (median)": s.loc[name, "cold"], "warm build s (median)": s.loc[name, "warm"],
                     "cold / warm": round(s.loc[name, "cold"] / s.loc[name, "warm"], 1)
                     if s.loc[name, "warm"] else None})
    return pd.DataFrame(rows)


def _store(group: pd.DataFrame) -> str:
    return str(group["store"].iloc[-1]) if "store" in group and pd.notna(group["store"].iloc[-1]) else ""


def _files(name: str) -> list[str]:
    return [p.name for p in write_exercise(approach(name).exercise, show=False).iterdir()]


def versus(times: pd.DataFrame | None = None, a: str = "builder pattern", b: str = "multi-stage to scratch"
           ) -> pd.DataFrame:
    """Two approaches side by side: files to maintain, whether a binary crosses the host, the final image.

    Without ``times`` the image sizes are asked of the engine ("not built" when
    absent; notebook 04); with ``times`` (from ``measure``) the median build
    seconds are added, with their ratio a / b (notebook 06).

    Args:
        times: build times from ``measure`` (optional).
        a, b: the two approaches' names.

    Example:
        >>> lu.versus()                      # notebook 04: the sizes only
        >>> lu.versus(lu.measure())          # notebook 06: with the median seconds
    """
    table = summary(times).set_index("approach") if times is not None else None

    def col(name: str) -> dict:
        ap, files = approach(name), _files(name)
        out: dict[str, object] = {"Dockerfiles to maintain": sum(f.startswith("Dockerfile") for f in files),
               "shell scripts": sum(f.endswith(".sh") for f in files),
               "binary copied to the host": bool(ap.builder_dockerfile)}
        if table is None:
            out["final image"] = human_size(image_size(ap.tag)) if image_exists(ap.tag) else "not built"
        else:
            out.update({"final image": table.loc[name, "size"],
                        "cold build s (median)": table.loc[name, "cold build s (median)"],
                        "warm build s (median)": table.loc[name, "warm build s (median)"]})
        return out

    out = pd.DataFrame({a: col(a), b: col(b)})
    if table is not None:
        out[f"{a} / {b}"] = [round(out.loc[label, a] / out.loc[label, b], 2)
                             if label.endswith("(median)") and out.loc[label, b] else None for label in out.index]
    return out


def with_buildkit(fn):
    """``fn()`` where BuildKit can build; else the recorded BuildKit answer, said out loud.

    For notebooks 03 and 06: a host whose docker CLI cannot build with BuildKit
    still shows what BuildKit did, labelled as recorded.
    """
    if backend().has_buildkit():
        return fn()
    print("No docker CLI with BuildKit here: showing the recorded BuildKit build instead.")
    with from_recording():
        return fn()


def builders(classic: pd.DataFrame, buildkit: pd.DataFrame) -> pd.DataFrame:
    """Median build seconds per approach with each builder, cold and warm, and BuildKit / classic."""
    both = pd.concat([classic.assign(builder="classic"), buildkit.assign(builder="buildkit")])
    med = both.groupby(["approach", "cache", "builder"], sort=False)["seconds"].median().unstack("builder")
    med["buildkit / classic"] = (med["buildkit"] / med["classic"]).round(2)
    order = list(dict.fromkeys(classic["approach"]))
    return med.reindex(order, level="approach").round(3).reset_index()
