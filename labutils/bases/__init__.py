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

from labutils import names
from labutils.backends import backend, on_reset
from labutils.bases import background
from labutils.docker import dockerfile as reader
from labutils.docker import platforms
from labutils.docker.references import repository_name, split_ref
from labutils.errors import BaseImageUnavailable, LabError

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
on_reset(_unpullable.clear)


FOREIGN_BASES = ("golang:1.15.6", "alpine:latest", "golang:1.15.6-alpine")
"""The lab bases made for a platform other than this machine's (``bases --offline --platform``): what
exercises 01 to 05 and notebook 08 build on. debian:bookworm (notebook 07's apt examples) is native only."""


def foreign(platform: str | None) -> bool:
    """Whether ``platform`` is set and is not this machine's own."""
    return bool(platform) and platform != platforms.native()


def standin_on_platform(standin: str, platform: str | None) -> str:
    """A stand-in's name for ``platform``: itself for this machine's, else suffixed (``labutils-golang:1.15-arm64``).

    The graph driver keeps one platform per tag, so each platform's stand-in has a tag of its own.
    """
    if not foreign(platform):
        return standin
    assert platform is not None
    return f"{standin}-{''.join(platform.split('/')[1:])}"


def standin_name(ref: str, platform: str | None = None) -> str | None:
    """The offline stand-in for an official image, or None: ``golang:1.15.6-alpine`` -> GOLANG_MUSL."""
    repo = repository_name(ref)
    if repo == "golang" and split_ref(ref)[1].endswith("-alpine"):
        return standin_on_platform(GOLANG_MUSL, platform)
    sub = STANDINS.get(repo)
    return standin_on_platform(sub, platform) if sub else None


def recipe(sub: str, platform: str | None = None) -> tuple[str, str]:
    """A stand-in's recipe in data/bases/ and the image it is built on, for ``platform``.

    Another platform's alpine stand-in is fetched from its bullseye (the one Debian root made under QEMU).
    """
    native = next((n for n in RECIPES if standin_on_platform(n, platform) == sub), sub)
    file, base = RECIPES[native]
    if foreign(platform) and base == DEBIAN:
        base = BULLSEYE
    return file, standin_on_platform(base, platform)


def required_standin(ref: str, platform: str | None = None) -> str:
    """The stand-in of an image the lab names (each of LAB_BASES has one)."""
    sub = standin_name(ref, platform)
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


def resolve(ref: str, *, quiet: bool = False, platform: str | None = None) -> Resolution:
    """Local, else pulled, else its stand-in; raises BaseImageUnavailable.

    For another ``platform`` than this machine's: a local image of that platform, else that platform's
    stand-in, else the registry (BuildKit fetches that platform's variant; the engine's tag is left alone).
    """
    if foreign(platform) and ref != "scratch":
        return _resolve_foreign(ref, platform or "", quiet)
    own = names.ref(ref)
    if ref != "scratch" and own != ref and exists(own):   # an image this learner built, under their namespace
        return Resolution(ref, own, "namespace")
    if ref == "scratch" or exists(ref):
        return Resolution(ref, ref, "local")
    if pull(ref, quiet=quiet):
        return Resolution(ref, ref, "pulled")
    why = _unpullable.get(ref, "")
    sub = standin_name(ref)
    if sub and not exists(sub):
        background.wait(why=f"the stand-in {sub} for {ref}")
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


def _holds(name: str, platform: str, *, fetched: bool = True) -> bool:
    """Whether ``name`` is here with a ``platform`` image (``fetched=False``: or names one, as an index does)."""
    return exists(name) and any(row["platform"] == platform and (row.get("available", True) or not fetched)
                                for row in backend().image_platforms(name))


def _resolve_foreign(ref: str, platform: str, quiet: bool) -> Resolution:
    own = names.ref(ref)
    if own != ref and _holds(own, platform):
        return Resolution(ref, own, "namespace")
    if _holds(ref, platform):
        return Resolution(ref, ref, "local")
    sub = standin_name(ref, platform)
    if sub and exists(sub):
        return Resolution(ref, sub, "stand-in", f"no {platform} image of {ref} is here")
    if pull(ref, quiet=quiet):          # a registry answers: BuildKit fetches the platform's variant itself
        # the containerd store keeps the whole index it pulled: where it names no such platform, BuildKit would
        # take the one image there is, of another platform, with only a warning
        if backend().describe()["store"] != "containerd" or _holds(ref, platform, fetched=False):
            return Resolution(ref, ref, "pulled")
        _unpullable[ref] = f"the registry's {ref} has no {platform} image"
    hint = (f"make the {platform} stand-ins with `python -m labutils bases --offline --platform {platform}` "
            f"(their Debian packages run under QEMU: {platforms.how_to_emulate(platform)})" if sub else
            f"load a {platform} image of {ref} with `docker load`")
    raise BaseImageUnavailable(f"No {platform} image of {ref} is on this engine, and it could not be pulled.",
                               engine_said=_unpullable.get(ref) or None, hint=hint + ", or build for "
                               f"{platforms.native()} (this machine's own platform).")


def stage_platforms(dockerfile: Path, buildargs: Mapping[str, str] | None, platform: str | None) -> list[list]:
    """The platforms each FROM is built for: ``--platform=$BUILDPLATFORM`` is this machine's, no flag (or
    ``$TARGETPLATFORM``) the build's ``platform`` (several for ``linux/amd64,linux/arm64``), a literal itself."""
    targets: list = (platform or "").split(",") if platform else [None]
    out: list[list] = []
    for stage in reader.read(dockerfile, buildargs).stages:
        flag = (stage.instructions[0].flag("platform") or "").strip("${}")
        if flag == "BUILDPLATFORM":
            out.append([None])
        elif flag and flag != "TARGETPLATFORM":
            out.append([platforms.checked(flag)])
        else:
            out.append(targets)
    return out


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


def prepare(dockerfile: Path, buildargs: Mapping[str, str] | None = None, *, quiet: bool = False,
            platform: str | None = None) -> PreparedDockerfile:
    """Resolve every image the Dockerfile names, each for the platform its stage is built for; rewrite a
    copy if a stand-in is needed.

    Raises:
        BaseImageUnavailable: as ``resolve``, or one FROM needs a different stand-in per platform of a
            multi-platform build (build one platform at a time).
    """
    parser = reader.parser(dockerfile, buildargs)
    stages = reader.stage_names(dockerfile, buildargs)
    wanted = stage_platforms(dockerfile, buildargs, platform)
    known_stages: set[str] = set()
    parents = parser.parent_images
    new_parents, subs, pulled = [], {}, []
    for index, parent in enumerate(parents):
        if parent.lower() in known_stages:          # FROM builder AS test
            new_parents.append(parent)
        else:
            each = {resolve(parent, quiet=quiet, platform=p) for p in wanted[index]}
            if len({r.used for r in each}) > 1:
                raise BaseImageUnavailable(
                    f"{parent} is a different stand-in on each platform of {platform}, and one build cannot "
                    "use several.", hint="build one platform at a time (platform='linux/arm64'), or build the "
                    "stage on the build machine (FROM --platform=$BUILDPLATFORM) and cross-compile.")
            res = each.pop()
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
        res = resolve(src, quiet=quiet, platform=(platform or "").split(",")[0] or None)
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
