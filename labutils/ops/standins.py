"""The offline stand-ins for the lab's base images, and an instructor's kit of them.

``python -m labutils bases --offline`` makes them from Debian packages, under
names of their own; ``--save``/``--load`` move them to engines with no network.
Taught in notebook 00.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from labutils.backends import backend, live_engine
from labutils.bases import (
    BULLSEYE,
    DEBIAN,
    FOREIGN_BASES,
    GOLANG,
    LAB_BASES,
    RECIPES,
    STANDIN_LABEL,
    Resolution,
    _unpullable,
    background,
    exists,
    foreign,
    pull,
    recipe,
    repository_name,
    required_standin,
    resolve,
    standin_name,
    standin_on_platform,
)
from labutils.docker import archive, platforms
from labutils.errors import BaseImageUnavailable, InvalidArgument, LabError
from labutils.ops.build import build
from labutils.settings import settings

DEBIAN_ARCH = {"linux/arm/v7": "armhf", "linux/arm/v6": "armel", "linux/386": "i386", "linux/ppc64le": "ppc64el"}
"""Docker's platform -> Debian's architecture, where the two names differ (arm64, ppc64el... match or nearly)."""


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


def _need_emulation(platform: str | None) -> None:
    if foreign(platform) and platform not in platforms.emulated():
        raise LabError(f"This machine cannot run {platform} programs, and making its stand-ins runs Debian's "
                       "package scripts for that platform.", hint=platforms.how_to_emulate(platform or ""))


def make_debian(*, quiet: bool = False, tag: str = DEBIAN, suite: str = "bookworm",
                platform: str | None = None) -> str:
    """debootstrap a minimal Debian ``suite`` and import it into the engine as DEBIAN (or ``tag``).

    With another ``platform`` (``linux/arm64``), debootstrap ``--arch`` makes that platform's root, its
    package scripts running under QEMU, and it is imported as that platform's image.

    Raises:
        LabError: debootstrap is missing, not root, no QEMU for ``platform``, or the mirror does not serve
            the suite.
    """
    _need_root_tools()
    _need_emulation(platform)
    mirror = settings().debian_mirror
    live_engine("making the Debian base image")
    with tempfile.TemporaryDirectory(prefix="labutils-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        arch = ["--arch", DEBIAN_ARCH.get(platform or "", (platform or "/").split("/")[1])] if foreign(platform) else []
        cmd = ["debootstrap", "--variant=minbase", *arch, suite, str(rootfs), mirror]
        if not quiet:
            print("$ " + " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LabError("debootstrap could not make the Debian root file system.",
                           command=" ".join(cmd), exit_code=proc.returncode,
                           log_tail="\n".join((proc.stdout + proc.stderr).splitlines()[-15:]),
                           hint=f"check that {mirror} serves {suite} (or set LABUTILS_DEBIAN_MIRROR).")
        _as_an_image(rootfs)
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        shutil.rmtree(rootfs, ignore_errors=True)
        changes = [f'LABEL {STANDIN_LABEL}=debian', 'CMD ["bash"]',
                   "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        if foreign(platform):
            # `docker import --platform` records the engine's own architecture before Engine 24: the image is
            # made by BuildKit instead, FROM scratch with the root added, which records the platform asked for
            (Path(tmp) / "Dockerfile").write_text("FROM scratch\nADD rootfs.tar /\n" + "\n".join(changes[1:]) + "\n")
            build(tmp, tag, quiet=True, labels={STANDIN_LABEL: "debian"}, builder="buildkit", platform=platform)
        else:
            backend().import_rootfs(str(archive), tag, changes)
    if not quiet:
        print(f"Imported {tag}", flush=True)
    return tag


APT_CLEAN = """\
// As in Docker's official Debian images: apt keeps no downloaded packages or
// caches in the image, so a layer holds what was installed and nothing more.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
"""


def _as_an_image(rootfs: Path) -> None:
    """Make a debootstrapped tree what a Debian base image is: no package cache, no lists, apt told so."""
    for folder in (rootfs / "var/cache/apt/archives", rootfs / "var/lib/apt/lists"):
        for entry in folder.glob("*"):
            if entry.is_file() and entry.name != "lock":
                entry.unlink()
    for cache in (rootfs / "var/cache/apt").glob("*.bin"):
        cache.unlink()
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)


def make_from_dockerfile(tag: str, dockerfile: Path, role: str, *, quiet: bool = False,
                         base: str | None = None, nocache: bool = False, buildargs: dict | None = None,
                         platform: str | None = None):
    """Build a stand-in from its recipe in data/bases/, labelled as a stand-in (never as the lab's)."""
    args = {**({"BASE": base} if base else {}), **(buildargs or {})}
    other = foreign(platform)      # another platform is built with BuildKit only (the classic builder gives FROM
    return build(dockerfile.parent, tag, dockerfile=dockerfile.name, quiet=quiet, nocache=nocache,   # scratch ours)
                 buildargs=args or None, labels={STANDIN_LABEL: role}, platform=platform if other else None,
                 builder="buildkit" if other else "classic")


def status() -> list[dict]:
    """For each lab base image: present, or which stand-in is ready."""
    rows = []
    for ref in LAB_BASES:
        sub = standin_name(ref)
        rows.append({"image": ref, "present": exists(ref), "stand_in": sub,
                     "stand_in_present": sub is not None and exists(sub)})
    return rows


def ensure(*, offline: bool = False, quiet: bool = False, platform: str | None = None) -> list[Resolution]:
    """Make every lab base image ready: present, else pulled, else a stand-in.

    Stand-ins are only built with ``offline`` (it needs debootstrap and root);
    without it a missing stand-in is an error that says how to make it. With another ``platform`` than
    this machine's, the bases exercises 01 to 05 build on (FOREIGN_BASES), made for that platform.

    Args:
        offline: make a missing stand-in from Debian packages (needs debootstrap and root).
        quiet: print nothing but failures.
        platform: the bases of another platform (``linux/arm64``), for notebook 08.

    Example:
        >>> [(r.requested, r.how) for r in lu.ensure_bases()]
    """
    if foreign(platform):
        with background.holding():
            return _ensure_foreign(platforms.checked(platform) or "", offline=offline, quiet=quiet)
    if offline:
        with background.holding():
            return _ensure(offline=True, quiet=quiet)
    return _ensure(offline=False, quiet=quiet)


def _ensure(*, offline: bool, quiet: bool) -> list[Resolution]:
    if offline:
        _debootstrap_both(quiet=quiet)
        _make_ready_ones_at_once([(ref, sub) for ref in LAB_BASES if (sub := standin_name(ref)) and sub in RECIPES
                                  and not exists(ref) and ref in _unpullable], quiet=quiet)
    results = []
    for ref in LAB_BASES:
        if exists(ref):
            results.append(Resolution(ref, ref, "local"))
            continue
        if pull(ref, quiet=quiet):
            results.append(Resolution(ref, ref, "pulled"))
            continue
        sub = required_standin(ref)
        if not exists(sub) and not offline:
            background.wait(why=f"{sub} and the other stand-ins")
        if not exists(sub):
            if not offline:
                raise BaseImageUnavailable(
                    f"{ref} is not here, no registry answered, and its stand-in {sub} is not built.",
                    engine_said=_unpullable.get(ref), hint="run `python -m labutils bases --offline`.")
            _make(sub, ref, quiet=quiet)
        results.append(Resolution(ref, sub, "stand-in", _unpullable.get(ref, "not pulled (offline)")))
    return results


def _ensure_foreign(platform: str, *, offline: bool, quiet: bool) -> list[Resolution]:
    results: dict[str, Resolution] = {}
    missing = []
    for ref in FOREIGN_BASES:
        try:
            results[ref] = resolve(ref, quiet=quiet, platform=platform)
        except BaseImageUnavailable:
            if not offline:
                raise
            missing.append(ref)
    if missing:
        root = standin_on_platform(BULLSEYE, platform)       # every other platform's stand-in is made on it
        if not exists(root):
            make_debian(quiet=quiet, tag=root, suite="bullseye", platform=platform)
        _make_ready_ones_at_once([(ref, required_standin(ref, platform)) for ref in missing], quiet=quiet,
                                 platform=platform)
    for ref in missing:
        sub = required_standin(ref, platform)
        if not exists(sub):
            _make(sub, ref, quiet=quiet, platform=platform)
        results[ref] = Resolution(ref, sub, "stand-in", f"no {platform} image of {ref} is here")
    return [results[ref] for ref in FOREIGN_BASES]


def _debootstrap_both(*, quiet: bool) -> None:
    """Make the two Debian roots at once when both are missing (each is mostly waiting on the mirror)."""
    missing = [ref for ref in LAB_BASES if not exists(ref) and not exists(required_standin(ref))
               and not pull(ref, quiet=quiet)]          # a failed pull is remembered: ensure() does not ask again
    if not missing or exists(DEBIAN) or exists(BULLSEYE) or not any(standin_name(r) == GOLANG for r in missing):
        return
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(make_debian, quiet=quiet), pool.submit(make_debian, quiet=quiet, tag=BULLSEYE,
                                                                   suite="bullseye")]
        for job in jobs:
            try:
                job.result()
            except LabError:
                pass           # _make() tries again one at a time and says what failed, or falls back


def _make_ready_ones_at_once(wanted: list[tuple[str, str]], *, quiet: bool, platform: str | None = None) -> None:
    """Of ``wanted`` (ref, stand-in), those still missing whose base is here (Go on bullseye, alpine on bookworm or,
    for another platform, on its bullseye), built side by side: each is mostly one apt-get download and unpack
    (under QEMU for another platform, one core each), so two at once take little more than the longer one."""
    ready = [(ref, sub) for ref, sub in wanted if not exists(sub) and exists(recipe(sub, platform)[1])]
    if len(ready) < 2:
        return
    from concurrent.futures import ThreadPoolExecutor
    if not quiet:
        print(f"Making {' and '.join(sub for _, sub in ready)} at once ...", flush=True)
    with ThreadPoolExecutor(max_workers=len(ready)) as pool:
        jobs = {sub: pool.submit(_make, sub, ref, quiet=True, platform=platform) for ref, sub in ready}
        for sub, job in jobs.items():
            try:
                job.result()
                if not quiet:
                    print(f"Made {sub}", flush=True)
            except LabError as exc:
                if not quiet:          # it is made again below, one at a time, saying what failed
                    print(f"{sub} was not made alongside ({exc.message}): it is made again on its own.", flush=True)


def _make(sub: str, ref: str, *, quiet: bool, platform: str | None = None) -> None:
    """Build one stand-in and, first, what it is built on (bullseye for Go 1.15, bookworm for the rest)."""
    if sub == DEBIAN:
        make_debian(quiet=quiet)
        return
    if sub == standin_on_platform(BULLSEYE, platform):
        make_debian(quiet=quiet, tag=sub, suite="bullseye", platform=platform)
        return
    file, base = recipe(sub, platform)
    args = {}
    if base == BULLSEYE and not exists(BULLSEYE):
        try:
            make_debian(quiet=quiet, tag=BULLSEYE, suite="bullseye")
        except LabError as exc:
            # Go 1.15 is only packaged for bullseye; without it, bookworm's Go 1.19 is the nearest.
            print(f"Debian bullseye could not be fetched ({exc.message}); {sub} is made from bookworm's "
                  "golang-go (Go 1.19) instead, so Go's figures will differ from the book's. "
                  "An instructor's kit (`bases --save`) carries the Go 1.15 stand-in offline.", flush=True)
            base, args = DEBIAN, {"GO_PACKAGE": "golang-go", "GOROOT": "/usr/lib/go"}
    if not exists(base):
        _make(base, base, quiet=quiet, platform=platform)
    make_from_dockerfile(sub, settings().data / "bases" / file, repository_name(ref), quiet=quiet,
                         buildargs={"BASE": base, **args}, platform=platform)


# --- an instructor's kit: every base image in one archive ---------------------

def kit_images() -> list[str]:
    """The images a kit holds: each lab base as it is here (the real one, else its stand-in)."""
    chosen, missing = [], []
    for ref in LAB_BASES:
        sub = required_standin(ref)
        if exists(ref):
            chosen.append(ref)
        elif sub and exists(sub):
            chosen.append(sub)
        else:
            missing.append(ref)
    if missing:
        raise BaseImageUnavailable(f"These base images are not ready, so they cannot go into a kit: {missing}.",
                                   hint="run `python -m labutils bases --offline` (or pull them) first.")
    chosen += [name for name in other_platform_standins() if exists(name)]   # where they were made here
    return list(dict.fromkeys(chosen))


KIT_PLATFORMS = ("linux/arm64",)
"""The other platforms whose stand-ins a kit carries when they were made (``bases --offline --platform``)."""


def other_platform_standins() -> list[str]:
    """The stand-ins of KIT_PLATFORMS other than this machine's, by name (made or not)."""
    return sorted({required_standin(ref, p) for p in KIT_PLATFORMS if foreign(p) for ref in FOREIGN_BASES})


def save_kit(path, *, quiet: bool = False) -> list[str]:
    """``docker save`` every base image the lab needs into one archive (shared layers once)."""
    path = Path(path)
    names = kit_images()
    tmp = path.with_name(path.name + ".part")
    written = backend().save_images(names, tmp)
    tmp.replace(path)
    if not quiet:
        print(f"Saved {', '.join(names)} to {path} ({written / 1e6:,.0f} MB).", flush=True)
    return names


def kit_names() -> set[str]:
    """The names a kit may carry: each lab base, and its stand-in."""
    return set(LAB_BASES) | {sub for sub in map(standin_name, LAB_BASES) if sub} | set(other_platform_standins())


def kit_contents(path: Path) -> list[str]:
    """The image names a ``docker save`` archive carries, read from its manifest.json (nothing is loaded).

    An untagged image counts as ``<untagged>``, so a kit holding one is refused like any other foreign image.

    Raises:
        LabError: the file is not such an archive.
    """
    try:
        with tarfile.open(path) as tar:
            manifest = archive.read_json(tar, "manifest.json")
        names = [t for entry in manifest for t in (entry.get("RepoTags") or ["<untagged>"])]
    except (tarfile.TarError, KeyError, ValueError, TypeError, AttributeError):
        raise LabError(f"{path} is not an image archive made by `docker save`.",
                       hint="use the kit made with `python -m labutils bases --save kit.tar`.") from None
    return [n.removeprefix("docker.io/library/").removeprefix("docker.io/") for n in names]


def load_kit(path, *, quiet: bool = False) -> list[str]:
    """``docker load`` a kit into this engine, with no network; returns the tags it brought.

    The kit is read first: it must carry only the lab's bases under their names, or nothing is loaded.

    Raises:
        LabError: no such file, not a ``docker save`` archive, or it carries another image.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidArgument(f"There is no kit at {path}.", hint="pass the file an instructor made with `bases --save`.")
    carried = kit_contents(path)
    allowed = kit_names()
    foreign = [name for name in carried if name not in allowed]
    if foreign or not carried:
        raise LabError(f"{path} carries {'images the lab does not need: ' + ', '.join(foreign) if foreign else 'no named image'}; "
                       "nothing was loaded (loading it could replace an image of that name on this engine).",
                       hint=f"a kit holds only the lab's bases ({', '.join(sorted(allowed))}): make one with "
                            "`python -m labutils bases --save kit.tar`.")
    loaded = backend().load_images(path)
    if not quiet:
        print(f"Loaded {', '.join(loaded)} from {path}.", flush=True)
    return loaded


def book_names(*, undo: bool = False, quiet: bool = False) -> list[tuple[str, str]]:
    """Give the offline stand-ins the lab's own names, so the book's commands work as typed (``FROM golang:1.15.6``).

    ``python -m labutils bases --book-names`` runs it once, after ``make lab`` made the stand-ins, on a machine
    that reaches no registry. Only a name the engine lacks is given: a real ``golang:1.15.6`` is never replaced.
    Each stand-in keeps its label, so labutils (and ``docker image inspect``) still tell it from the real image.
    ``undo`` takes back every lab name that names a stand-in, and nothing else.

    Args:
        undo: take the names back (``--no-book-names``).
        quiet: print nothing.

    Returns:
        ``(lab name, stand-in)`` for each name given (or taken back).

    Example:
        >>> book_names()
        [('golang:1.15.6', 'labutils-golang:1.15'), ('alpine:latest', 'labutils-alpine:musl'), ...]
    """
    b = backend()
    done = []
    for ref in LAB_BASES:
        sub = standin_name(ref)
        if sub is None:
            continue
        if undo:
            if exists(ref) and STANDIN_LABEL in (b.inspect(ref).get("labels") or {}):
                b.untag(ref)
                done.append((ref, sub))
                if not quiet:
                    print(f"docker image rm {ref}   # the name only: {sub} stays")
        elif not exists(ref) and exists(sub):
            b.tag(sub, ref)
            done.append((ref, sub))
            if not quiet:
                print(f"docker image tag {sub} {ref}")
        elif not quiet and not exists(ref):
            print(f"{ref}: no stand-in {sub} here yet; make it with `python -m labutils bases --offline`")
    return done
