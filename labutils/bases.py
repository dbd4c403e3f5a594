"""Base images: use the local one, else pull it, else an offline stand-in.

The lab builds on ``golang:1.15.6`` and ``alpine:latest``. Where no registry can
be reached (an offline classroom, this project's CI), ``python -m labutils bases
--offline`` makes stand-ins from Debian packages, under names of their own. A
build whose ``FROM`` cannot be had is then built from a rewritten *copy* of the
Dockerfile that names the stand-in, and the output says so. The learner's file
is never changed.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from docker.errors import APIError, ImageNotFound as _DockerImageNotFound
from dockerfile_parse import DockerfileParser
from dockerfile_parse.parser import image_from

from . import engine
from .errors import BaseImageUnavailable, LabError

DATA = Path(os.environ.get("LABUTILS_DATA", Path(__file__).resolve().parent.parent / "data"))

STANDIN_LABEL = "io.labutils.standin"
DEBIAN = "labutils-debian:bookworm"
GOLANG = "labutils-golang:bookworm"
BUSYBOX = "labutils-busybox:bookworm"

LAB_BASES = ("golang:1.15.6", "alpine:latest", "debian:bookworm")
"""The images the lab's Dockerfiles name (debian: the best-practices notebook's apt examples)."""

# official repository -> stand-in
STANDINS = {"golang": GOLANG, "alpine": BUSYBOX, "busybox": BUSYBOX, "debian": DEBIAN}

MIRROR = os.environ.get("LABUTILS_DEBIAN_MIRROR", "http://deb.debian.org/debian")

_unpullable: dict[str, str] = {}   # image -> why the pull failed, for this process


def split_ref(ref: str) -> tuple[str, str]:
    """``golang:1.15.6`` -> (``golang``, ``1.15.6``); digest refs keep their digest."""
    if "@" in ref:
        repo, digest = ref.split("@", 1)
        return repo, "@" + digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


def repository_name(ref: str) -> str:
    """The short repository name: ``docker.io/library/golang:1.15`` -> ``golang``."""
    return split_ref(ref)[0].rsplit("/", 1)[-1]


def standin_for(ref: str) -> str | None:
    return STANDINS.get(repository_name(ref))


def exists(ref: str) -> bool:
    try:
        engine.client().images.get(ref)
        return True
    except _DockerImageNotFound:
        return False


def pull(ref: str, *, quiet: bool = False) -> bool:
    """Pull with progress; False (and remembered) when no registry answers."""
    if ref in _unpullable:
        return False
    try:
        last = None
        for chunk in engine.api().pull(ref, stream=True, decode=True):
            if "error" in chunk:
                raise APIError(chunk["error"])
            line = " ".join(str(chunk.get(k, "")) for k in ("id", "status", "progress")).strip()
            if not quiet and line and line != last:
                print(line, flush=True)
                last = line
        return True
    except APIError as exc:
        _unpullable[ref] = engine._short(exc)
        return False


@dataclass(frozen=True)
class Resolution:
    """How one FROM image was made available: ``local``, ``pulled`` or ``stand-in``."""
    requested: str
    used: str
    how: str
    why: str = ""


def resolve(ref: str, *, quiet: bool = False) -> Resolution:
    """Local, else pulled, else its stand-in; raises BaseImageUnavailable."""
    own = engine.ref(ref)
    if ref != "scratch" and own != ref and exists(own):   # an image this learner built, under their namespace
        return Resolution(ref, own, "namespace")
    if ref == "scratch" or exists(ref):
        return Resolution(ref, ref, "local")
    if pull(ref, quiet=quiet):
        return Resolution(ref, ref, "pulled")
    why = _unpullable.get(ref, "")
    sub = standin_for(ref)
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
    _tmpdir: tempfile.TemporaryDirectory | None = None

    def cleanup(self) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None


def stage_names(parser: DockerfileParser) -> list[str]:
    names = []
    for insn in parser.structure:
        if insn["instruction"] == "FROM":
            _, stage = image_from(insn["value"])
            names.append(stage)
    return names


def prepare(dockerfile: Path, buildargs: dict | None = None, *, quiet: bool = False) -> PreparedDockerfile:
    """Resolve every image the Dockerfile names; rewrite a copy if a stand-in is needed."""
    text = dockerfile.read_text()
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), build_args=dict(buildargs or {}))
    stages = stage_names(parser)
    known_stages: set[str] = set()
    parents = parser.parent_images
    new_parents, subs = [], {}
    for index, parent in enumerate(parents):
        if parent.lower() in known_stages:          # FROM builder AS test
            new_parents.append(parent)
        else:
            res = resolve(parent, quiet=quiet)
            new_parents.append(res.used)
            if res.how in ("stand-in", "namespace"):
                subs[parent] = res.used
        if stages[index]:
            known_stages.add(stages[index].lower())
    copy_froms = []
    for insn in parser.structure:                   # COPY --from=<image>
        if insn["instruction"] in ("COPY", "ADD"):
            for word in insn["value"].split():
                if word.startswith("--from="):
                    src = word.split("=", 1)[1]
                    if src.lower() in known_stages or src.isdigit():
                        continue
                    res = resolve(src, quiet=quiet)
                    if res.how in ("stand-in", "namespace"):
                        subs[src] = res.used
                        copy_froms.append((insn, word, f"--from={res.used}"))
    if not subs:
        return PreparedDockerfile(dockerfile, {}, stages)
    out = DockerfileParser(fileobj=io.BytesIO(text.encode()), build_args=dict(buildargs or {}))
    # parent_images' setter writes the substituted value; keep the learner's
    # unresolved ${ARG} text where no stand-in was needed.
    raw = [image_from(i["value"])[0] for i in out.structure if i["instruction"] == "FROM"]
    out.parent_images = [subs.get(p, raw[i]) for i, p in enumerate(parents)]
    for insn, old, new in copy_froms:
        for current in out.structure:
            if current["startline"] == insn["startline"]:
                out.add_lines_at(current, current["content"].replace(old, new, 1), replace=True)
                break
    tmp = tempfile.TemporaryDirectory(prefix="labutils-dockerfile-")
    path = Path(tmp.name) / (dockerfile.name + ".standin")
    path.write_text(out.content)
    standins = {k: v for k, v in subs.items() if v != engine.ref(k)}
    return PreparedDockerfile(path, standins, stages, tmp)


# --- making the stand-ins -------------------------------------------------

def _need_root_tools() -> None:
    if sys.platform != "linux":
        raise LabError("Offline stand-ins are made with debootstrap, which needs a Linux host.",
                       hint="pull golang:1.15.6 and alpine:latest where a registry is reachable, "
                            "or load an instructor's kit.")
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is not installed, and the offline stand-ins need it.",
                       hint="install it (`apt-get install debootstrap` on Debian/Ubuntu) and run "
                            "`python -m labutils bases --offline` again.")
    if os.geteuid() != 0:
        raise LabError("debootstrap needs root to make the Debian root file system.",
                       hint="run `sudo python -m labutils bases --offline`.")


def make_debian(*, quiet: bool = False, tag: str = DEBIAN) -> str:
    """debootstrap a minimal bookworm and import it into the engine as DEBIAN (or ``tag``)."""
    _need_root_tools()
    engine.client()
    with tempfile.TemporaryDirectory(prefix="labutils-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR]
        if not quiet:
            print("$ " + " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LabError("debootstrap could not make the Debian root file system.",
                           command=" ".join(cmd), exit_code=proc.returncode,
                           log_tail="\n".join((proc.stdout + proc.stderr).splitlines()[-15:]),
                           hint=f"check that {MIRROR} is reachable (or set LABUTILS_DEBIAN_MIRROR).")
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        shutil.rmtree(rootfs, ignore_errors=True)
        repo, version = split_ref(tag)
        engine.api().import_image_from_file(
            str(archive), repository=repo, tag=version,
            changes=[f'LABEL {STANDIN_LABEL}=debian', 'CMD ["bash"]',
                     "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    if not quiet:
        print(f"Imported {tag}", flush=True)
    return tag


def make_from_dockerfile(tag: str, dockerfile: Path, role: str, *, quiet: bool = False,
                         base: str | None = None, nocache: bool = False):
    from .build import build
    return build(dockerfile.parent, tag, dockerfile=dockerfile.name, quiet=quiet, nocache=nocache,
                 buildargs={"BASE": base} if base else None, labels={STANDIN_LABEL: role})


def status() -> list[dict]:
    """For each lab base image: present, or which stand-in is ready."""
    rows = []
    for ref in LAB_BASES:
        sub = standin_for(ref)
        rows.append({"image": ref, "present": exists(ref), "stand_in": sub,
                     "stand_in_present": bool(sub) and exists(sub)})
    return rows


def _ensure_replayable(fn):
    from . import recording   # recording imports this module for DATA
    return recording.replayable(
        "ensure_bases", key=lambda offline, quiet: {"offline": offline},
        encode=lambda res: [vars(r) for r in res],
        decode=lambda a, entry, **_: [Resolution(**r) for r in a],
        what=lambda **_: "the base images' readiness")(fn)


@_ensure_replayable
def ensure(*, offline: bool = False, quiet: bool = False) -> list[Resolution]:
    """Make every lab base image ready: present, else pulled, else a stand-in.

    Stand-ins are only built with ``offline`` (it needs debootstrap and root);
    without it a missing stand-in is an error that says how to make it.
    """
    results = []
    for ref in LAB_BASES:
        if exists(ref):
            results.append(Resolution(ref, ref, "local"))
            continue
        if pull(ref, quiet=quiet):
            results.append(Resolution(ref, ref, "pulled"))
            continue
        sub = standin_for(ref)
        if not exists(sub):
            if not offline:
                raise BaseImageUnavailable(
                    f"{ref} is not here, no registry answered, and its stand-in {sub} is not built.",
                    engine_said=_unpullable.get(ref), hint="run `python -m labutils bases --offline`.")
            if not exists(DEBIAN):
                make_debian(quiet=quiet)
            recipe = {GOLANG: "golang.Dockerfile", BUSYBOX: "busybox.Dockerfile"}.get(sub)
            if recipe:
                make_from_dockerfile(sub, DATA / "bases" / recipe, repository_name(ref), quiet=quiet)
        results.append(Resolution(ref, sub, "stand-in", _unpullable.get(ref, "not pulled (offline)")))
    return results


# --- an instructor's kit: every base image in one archive ---------------------

def kit_images() -> list[str]:
    """The images a kit holds: each lab base as it is here (the real one, else its stand-in)."""
    chosen, missing = [], []
    for ref in LAB_BASES:
        sub = standin_for(ref)
        if exists(ref):
            chosen.append(ref)
        elif sub and exists(sub):
            chosen.append(sub)
        else:
            missing.append(ref)
    if missing:
        raise BaseImageUnavailable(f"These base images are not ready, so they cannot go into a kit: {missing}.",
                                   hint="run `python -m labutils bases --offline` (or pull them) first.")
    return list(dict.fromkeys(chosen))


def save_kit(path, *, quiet: bool = False) -> list[str]:
    """``docker save`` every base image the lab needs into one archive (shared layers once)."""
    path = Path(path)
    names = kit_images()
    api = engine.api()
    res = api._get(api._url("/images/get"), params={"names": names}, stream=True)
    api._raise_for_status(res)
    tmp = path.with_name(path.name + ".part")
    written = 0
    with open(tmp, "wb") as fh:
        for chunk in res.iter_content(chunk_size=1 << 20):
            fh.write(chunk)
            written += len(chunk)
    tmp.replace(path)
    if not quiet:
        print(f"Saved {', '.join(names)} to {path} ({written / 1e6:,.0f} MB).", flush=True)
    return names


def load_kit(path, *, quiet: bool = False) -> list[str]:
    """``docker load`` a kit into this engine, with no network; returns the tags it brought."""
    path = Path(path)
    if not path.is_file():
        raise LabError(f"There is no kit at {path}.", hint="pass the file an instructor made with `bases --save`.")
    try:
        with tarfile.open(path) as tar:
            tar.getmember("manifest.json")
    except (tarfile.TarError, KeyError):
        raise LabError(f"{path} is not an image archive made by `docker save`.",
                       hint="use the kit made with `python -m labutils bases --save kit.tar`.") from None
    loaded = []
    with open(path, "rb") as fh:
        for chunk in engine.api().load_image(fh):
            if "error" in chunk:
                raise LabError(f"The engine could not load {path}.", engine_said=chunk["error"],
                               hint="check free disk space, and that the kit was copied completely.")
            text = chunk.get("stream", "").strip()
            if text.startswith("Loaded image:"):
                loaded.append(text.split(":", 1)[1].strip())
    if not quiet:
        print(f"Loaded {', '.join(loaded)} from {path}.", flush=True)
    return loaded
