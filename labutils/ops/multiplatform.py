"""One Dockerfile, several platforms (notebook 08): a multi-platform image where the engine's store keeps one,
else one tag per platform; what each platform's image holds; cross-compiled against emulated builds, timed.

The lesson is asserted on the files (each binary's ELF machine, its size beside the image's), never on a
tag or an image config, which say only what the build was asked for.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from itertools import product
from pathlib import Path

import pandas as pd

from labutils.backends import backend, tag_recorded
from labutils.docker import platforms as _platforms
from labutils.docker.references import split_ref
from labutils.errors import BaseImageUnavailable, InvalidArgument
from labutils.ops.build import BuildResult, build
from labutils.ops.containers import file_size

how_to_emulate = _platforms.how_to_emulate

BOTH = ("linux/amd64", "linux/arm64")
WAYS = {"cross": "Dockerfile", "emulated": "Dockerfile.emulated"}
"""How the build stage runs -> the Dockerfile in data/exercises/multi-platform that does it."""
WORK = {"the lab's program": {}, "every package (GOFLAGS=-a)": {"GOFLAGS": "-a"}}
"""How much the build stage compiles -> its build args. Go 1.15 ships its standard library compiled for the
image's own platform, so the first compiles one package; the second compiles all it uses, as a Go 1.20+ image
(which ships none compiled) or a program with dependencies does."""


def binary_machine(image: str, path: str, platform: str | None = None) -> str:
    """What the program at ``path`` in ``image`` was compiled for, read from the file in the image
    (``platform`` picks one image of a multi-platform index).

    Raises:
        ImageNotFound, LabError: as ``copy_out`` (no such image or file).
        InvalidArgument: the file is not an ELF executable.
    """
    return _platforms.elf_machine(backend().copy_out(image, path, _platforms.checked(platform))["data"][:64])


def engine_platforms() -> pd.DataFrame:
    """The platforms this engine runs: its own, and each its kernel runs under QEMU (binfmt_misc).

    With none under QEMU it says what to install; the cross-compiled build needs none of it.
    """
    d = backend().describe()
    rows = [{"platform": d["os_arch"], "runs": "natively"}]
    rows += [{"platform": p, "runs": "under QEMU (binfmt_misc)"} for p in d["emulates"]]
    if not d["emulates"]:
        print(f"This engine runs no other platform. {_platforms.how_to_emulate()}", flush=True)
    return tag_recorded(pd.DataFrame(rows))


def runs_here(platform: str) -> bool:
    """Whether the engine can run ``platform``'s programs: its own, or under QEMU."""
    d = backend().describe()
    return platform == d["os_arch"] or platform in d["emulates"]


def platform_tag(tag: str, platform: str) -> str:
    """The tag one platform's image gets where a tag holds one platform: ``welcome:v1`` -> ``welcome:v1-arm64``."""
    repo, version = split_ref(tag)
    return f"{repo}:{version}-{''.join(platform.split('/')[1:])}"


def _checked(plats: Sequence[str]) -> list[str]:
    plats = list(plats)
    if not plats:
        raise InvalidArgument("platforms=[] builds nothing.", hint="pass e.g. ['linux/amd64', 'linux/arm64'].")
    for p in plats:
        _platforms.checked(p)
    return plats


def build_platforms(path, tag: str, platforms: Sequence[str] = BOTH, *, dockerfile: str | None = None,
                    nocache: bool = False, quiet: bool = False) -> list[BuildResult]:
    """``docker buildx build --platform linux/amd64,linux/arm64 -t tag``: one build for several platforms.

    On the containerd image store, one tag holds them all (an index with a manifest per platform): one
    result. The graph driver (overlay2) keeps one platform per tag, and Docker 20.10's BuildKit builds one
    platform at a time: each platform is built under its own tag (``platform_tag``), and the output says so.

    Args:
        path: the build context folder.
        tag: the image name.
        platforms: Docker's platform names (``os/arch[/variant]``).
        dockerfile, nocache: as ``docker build``'s ``-f`` and ``--no-cache``.
        quiet: print nothing while it builds.

    Raises:
        InvalidArgument: no platforms, or one Docker would not read.
        BuildFailed, BaseImageUnavailable: as ``build``.

    Example:
        >>> [r.tag for r in lu.build_platforms("work/multi-platform", "welcome-platforms:v1")]
    """
    plats = _checked(platforms)
    store = backend().describe()["store"]
    if store == "containerd" or len(plats) == 1:
        return [build(path, tag, dockerfile=dockerfile, nocache=nocache, quiet=quiet, builder="buildkit",
                      platform=",".join(plats))]
    tags = [platform_tag(tag, p) for p in plats]
    print(f"This engine keeps its images with the {store} graph driver: one platform per tag. Each platform "
          f"is built under its own tag: {', '.join(tags)}.", flush=True)
    return [build(path, t, dockerfile=dockerfile, nocache=nocache, quiet=quiet, builder="buildkit", platform=p)
            for t, p in zip(tags, plats, strict=True)]


def image_platforms(results: Sequence[BuildResult] | BuildResult, binary: str | None = None) -> pd.DataFrame:
    """One row per platform image the builds made: image, platform, size_bytes (unpacked), and with
    ``binary`` (its path in the image) binary_bytes and machine, read from the file itself.
    """
    if isinstance(results, BuildResult):
        results = [results]
    rows = []
    for result in results:
        for row in backend().image_platforms(result.tag):
            if not row.get("available", True):          # named by an index, not fetched here
                continue
            one = row["platform"]
            entry = {"image": result.tag, "platform": one, "size_bytes": row["size"]}
            if binary:
                entry["binary_bytes"] = file_size(result.tag, binary, platform=one)
                entry["machine"] = binary_machine(result.tag, binary, platform=one)
            rows.append(entry)
    return tag_recorded(pd.DataFrame(rows))


def measure_platforms(path, platforms: Sequence[str] = BOTH, repeats: int = 2, *, tag: str = "welcome-platforms",
                      work: Mapping[str, Mapping[str, str]] | None = None, quiet: bool = True) -> pd.DataFrame:
    """Build the folder for each platform both ways, cold (no build cache), ``repeats`` times each.

    ``cross`` is its ``Dockerfile`` (the build stage on this machine, Go cross-compiling); ``emulated`` is
    ``Dockerfile.emulated`` (the build stage on the target platform, under QEMU where it is not this
    machine's). ``work`` names build-arg sets to measure each with (default ``WORK``: the program as
    written, and every package compiled). One row per build: work, platform, way, repeat, seconds,
    size_bytes, tag, emulated (whether QEMU ran the Go toolchain). A platform the engine cannot run has
    no emulated rows, and the output says what to install.

    Args:
        path: the folder with ``Dockerfile`` and ``Dockerfile.emulated``.
        platforms: the platforms to build for.
        repeats: cold builds per platform and way.
        tag: the images' name (each build tags ``tag:<way>-<arch>``).
        work: build-arg sets by name (default ``WORK``).
        quiet: print nothing while it builds.

    Raises:
        InvalidArgument: repeats < 1, or the folder lacks one of the two Dockerfiles.

    Example:
        >>> times = lu.measure_platforms("work/multi-platform", repeats=1)
        >>> lu.cross_vs_emulated(times)
    """
    plats = _checked(platforms)
    if repeats < 1:
        raise InvalidArgument(f"repeats={repeats} builds nothing.", hint="pass repeats=1 or more.")
    folder = Path(path)
    for name in WAYS.values():
        if not (folder / name).is_file():
            raise InvalidArgument(f"{folder} has no {name}.", hint="write the exercise first: "
                                  "lu.write_exercise('multi-platform').")
    rows = []
    skipped = [p for p in plats if not runs_here(p)]
    own = backend().describe()["os_arch"]
    if skipped:
        print(f"The emulated builds for {', '.join(skipped)} are left out: this engine cannot run "
              f"{'their' if len(skipped) > 1 else 'its'} programs. {_platforms.how_to_emulate(skipped[0])}", flush=True)
    for i in range(repeats):
        for (label, args), p, (way, dockerfile) in product((work or WORK).items(), plats, WAYS.items()):
            if way == "emulated" and p in skipped:
                continue
            t = f"{tag}:{way}-{''.join(p.split('/')[1:])}"
            try:
                r = build(folder, t, dockerfile=dockerfile, nocache=True, quiet=quiet, builder="buildkit",
                          platform=p, buildargs=dict(args) or None)
            except BaseImageUnavailable as exc:
                if way != "emulated":
                    raise
                print(f"The emulated build for {p} is left out: {exc.message} {exc.hint}", flush=True)
                skipped.append(p)
                continue
            rows.append({"work": label, "platform": p, "way": way, "repeat": i + 1, "seconds": r.seconds,
                         "size_bytes": r.size, "tag": t,
                         "emulated": way == "emulated" and p != own})
    return tag_recorded(pd.DataFrame(rows))


def cross_vs_emulated(times: pd.DataFrame) -> pd.DataFrame:
    """Per work and platform: the median cold build each way, and how many times longer emulated is than
    cross (the ratio of medians, and its range over every pair of builds)."""
    rows = []
    for (w, p), group in times.groupby(["work", "platform"], sort=False):
        cross = group[group["way"] == "cross"]["seconds"].tolist()
        emulated = group[group["way"] == "emulated"]["seconds"].tolist()
        if not emulated:
            continue
        ratios = [e / c for e in emulated for c in cross]
        rows.append({"work": w, "platform": p, "cross_s": statistics.median(cross), "emulated_s": statistics.median(emulated),
                     "ratio": statistics.median(emulated) / statistics.median(cross),
                     "ratio_min": min(ratios), "ratio_max": max(ratios), "builds_each": min(len(cross), len(emulated)),
                     "under_qemu": bool(group["emulated"].any())})
    return tag_recorded(pd.DataFrame(rows))
