"""Base images: use the local one, else pull it, else an offline stand-in.

The lab builds on ``golang:1.15.6`` and ``alpine:latest``. Where no registry can
be reached (an offline classroom, this project's CI), ``python -m labutils bases
--offline`` makes stand-ins from Debian packages, under names of their own. A
build whose ``FROM`` cannot be had is then built from a rewritten *copy* of the
Dockerfile that names the stand-in, and the output says so. The learner's file
is never changed.
"""
from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import dockerfile as reader
from . import engine, making, names
from .backend import backend
from .errors import BaseImageUnavailable, LabError
from .names import repository_name, split_ref  # noqa: F401 (bases' callers name them here)

STANDIN_LABEL = "io.labutils.standin"
DEBIAN = "labutils-debian:bookworm"
BULLSEYE = "labutils-debian:bullseye"          # what GOLANG is built on (Go 1.15 is bullseye's)
GOLANG = "labutils-golang:1.15"
GOLANG_MUSL = "labutils-golang:1.15-musl"
ALPINE = "labutils-alpine:musl"

LAB_BASES = ("golang:1.15.6", "alpine:latest", "debian:bookworm", "golang:1.15.6-alpine")
"""The images the lab's Dockerfiles name (debian: the best-practices notebook's apt examples;
golang:1.15.6-alpine: the activity's musl builder, the book's way out)."""

# official repository -> stand-in (a tag ending in -alpine picks the musl toolchain)
STANDINS = {"golang": GOLANG, "alpine": ALPINE, "busybox": ALPINE, "debian": DEBIAN}
RECIPES = {GOLANG: ("golang.Dockerfile", BULLSEYE), GOLANG_MUSL: ("golang-musl.Dockerfile", GOLANG),
           ALPINE: ("alpine.Dockerfile", DEBIAN)}
"""stand-in -> (its recipe in data/bases/, the image it is built on)."""

_unpullable: dict[str, str] = {}   # image -> why the pull failed, for this process
engine.on_reset(_unpullable.clear)


def standin_for(ref: str) -> str | None:
    """The offline stand-in for an official image, or None: ``golang:1.15.6-alpine`` -> GOLANG_MUSL."""
    repo = repository_name(ref)
    if repo == "golang" and split_ref(ref)[1].endswith("-alpine"):
        return GOLANG_MUSL
    return STANDINS.get(repo)


def standin_of(ref: str) -> str:
    """The stand-in of an image the lab names (each of LAB_BASES has one)."""
    sub = standin_for(ref)
    if sub is None:
        raise BaseImageUnavailable(f"{ref} has no offline stand-in.", hint=f"use one of {list(LAB_BASES)}.")
    return sub


def exists(ref: str) -> bool:
    """Whether the engine holds ``ref``, exactly as named."""
    return backend().exists(ref)


def pull(ref: str, *, quiet: bool = False) -> bool:
    """Pull with progress; False (and remembered for this process) when no registry answers."""
    if ref in _unpullable:
        return False
    answer = backend().pull(ref, quiet)
    if not answer["ok"]:
        _unpullable[ref] = answer["why"]
    return answer["ok"]


@dataclass(frozen=True)
class Resolution:
    """How one FROM image was made available: ``local``, ``pulled`` or ``stand-in``."""
    requested: str
    used: str
    how: str
    why: str = ""


def resolve(ref: str, *, quiet: bool = False) -> Resolution:
    """Local, else pulled, else its stand-in; raises BaseImageUnavailable."""
    own = names.ref(ref)
    if ref != "scratch" and own != ref and exists(own):   # an image this learner built, under their namespace
        return Resolution(ref, own, "namespace")
    if ref == "scratch" or exists(ref):
        return Resolution(ref, ref, "local")
    if pull(ref, quiet=quiet):
        return Resolution(ref, ref, "pulled")
    why = _unpullable.get(ref, "")
    sub = standin_for(ref)
    if sub and not exists(sub):
        making.wait(why=f"the stand-in {sub} for {ref}")
    if sub and exists(sub):
        return Resolution(ref, sub, "stand-in", why)
    if sub:
        hint = (f"make the offline stand-ins with `python -m labutils bases --offline` "
                f"(it builds {sub}), load an instructor's kit with `python -m labutils bases --load kit.tar`, "
                f"or pull {ref} where a registry is reachable.")
    else:
        hint = (f"labutils has no offline stand-in for {repository_name(ref)!r}: use one of "
                f"{', '.join(sorted(STANDINS))}, or load the image with `docker load`.")
    raise BaseImageUnavailable(f"The base image {ref} is not on this engine and could not be pulled.",
                               engine_said=why or None, hint=hint)


@dataclass
class PreparedDockerfile:
    """The Dockerfile a build really uses, and which images stood in for which."""
    path: Path                     # the learner's file, or a rewritten temporary copy
    substitutions: dict = field(default_factory=dict)
    stages: list = field(default_factory=list)
    pulled: list = field(default_factory=list)
    """Images this preparation pulled from a registry, used as themselves."""
    _tmpdir: tempfile.TemporaryDirectory | None = None

    def cleanup(self) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None


_FROM_LINE = re.compile(r"^(\s*FROM\s+(?:--\S+\s+)*)(\S+)(.*)$", re.I | re.S)


def prepare(dockerfile: Path, buildargs: Mapping[str, str] | None = None, *, quiet: bool = False) -> PreparedDockerfile:
    """Resolve every image the Dockerfile names; rewrite a copy if a stand-in is needed."""
    parser = reader.parser(dockerfile, buildargs)
    stages = reader.stage_names(dockerfile, buildargs)
    known_stages: set[str] = set()
    parents = parser.parent_images
    new_parents, subs, pulled = [], {}, []
    for index, parent in enumerate(parents):
        if parent.lower() in known_stages:          # FROM builder AS test
            new_parents.append(parent)
        else:
            res = resolve(parent, quiet=quiet)
            if res.how == "pulled":
                pulled.append(parent)
            new_parents.append(res.used)
            if res.how in ("stand-in", "namespace"):
                subs[parent] = res.used
        if stages[index]:
            known_stages.add(stages[index].lower())
    copy_froms = []
    for insn in reader.read(dockerfile, buildargs).copies(from_context=False):     # COPY --from=<image>
        src = insn.flag("from") or ""
        if not src or src.lower() in known_stages or src.isdigit():
            continue
        res = resolve(src, quiet=quiet)
        if res.how == "pulled":
            pulled.append(src)
        if res.how in ("stand-in", "namespace"):
            subs[src] = res.used
            copy_froms.append((insn.line, f"--from={src}", f"--from={res.used}"))
    if not subs:
        return PreparedDockerfile(dockerfile, {}, stages, pulled)
    out = reader.parser(dockerfile, buildargs)
    # only the image word of a FROM line that needs a stand-in changes: its flags (--platform=$BUILDPLATFORM),
    # its AS name and every other line stay as the learner wrote them (parent_images' setter drops the flags)
    for index, parent in enumerate(parents):
        if parent in subs:
            line = [i for i in out.structure if i["instruction"] == "FROM"][index]
            found = _FROM_LINE.match(line["content"])
            if found is None:
                raise LabError(f"labutils could not rewrite line {line['startline'] + 1} of {dockerfile.name} for "
                               f"the stand-in {subs[parent]}.", hint="write the FROM instruction on one line.")
            out.add_lines_at(line, found.group(1) + subs[parent] + found.group(3), replace=True)
    for line, old, new in copy_froms:
        for current in out.structure:
            if current["startline"] + 1 == line:
                out.add_lines_at(current, current["content"].replace(old, new, 1), replace=True)
                break
    tmp = tempfile.TemporaryDirectory(prefix="labutils-dockerfile-")
    path = Path(tmp.name) / (dockerfile.name + ".standin")
    path.write_text(out.content)
    standins = {k: v for k, v in subs.items() if v != names.ref(k)}
    return PreparedDockerfile(path, standins, stages, pulled, tmp)
