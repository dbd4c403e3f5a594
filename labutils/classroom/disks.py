"""A disk of its own for each learner: ``work/`` and their engine's data on one file system of ``CLASS_DISK``.

Each learner's lab mounts two folders of one ext4 file system, made in a sparse file of ``CLASS_DISK`` in the
class's state folder (``disks/<learner>.img``) and loop-mounted at ``disks/<learner>/``. Writing past it is
ENOSPC in that lab alone: the host's disk, the hub and every other lab go on. The spawner makes and mounts a
learner's disk before their lab starts; ``class-down`` unmounts every one (and ``--purge`` removes them).
Sparse files take only what is written, so a class of 30 at 20g each needs what the learners use, not 600 GB.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from labutils.classroom.settings import size_bytes

LEARNER_UID = 1000
"""The learner in the lab image (class/lab.Dockerfile): both folders are theirs."""
FOLDERS = ("work", "engine")


def _run(*cmd: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed: {(proc.stderr or proc.stdout).strip()[-300:]}")


def folder(state: Path, learner: str) -> Path:
    return Path(state) / "disks" / learner


def ensure(state: Path, learner: str, size: str) -> dict[str, Path]:
    """``learner``'s disk, made (a sparse file, ext4) and mounted when it is not; their two folders on it.

    Raises:
        RuntimeError: mkfs or mount failed (no loop devices: the message says what ran).
    """
    mount = folder(state, learner)
    image = mount.with_suffix(".img")
    mount.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not image.exists():
        fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.ftruncate(fd, size_bytes(size))
        os.close(fd)
        _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", f"root_owner={LEARNER_UID}:{LEARNER_UID}", str(image))
    mount.mkdir(mode=0o700, exist_ok=True)
    if not os.path.ismount(mount):
        # no nodev or nosuid: flags a mount carries are locked inside the learner's user namespace, and BuildKit's
        # read-only bind remounts there would fail (EPERM); the learner's engine is rootless all the same
        _run("mount", "-o", "loop", str(image), str(mount))
    paths = {}
    for name in FOLDERS:
        path = mount / name
        path.mkdir(exist_ok=True)
        os.chown(path, LEARNER_UID, LEARNER_UID)
        paths[name] = path
    os.chmod(mount, 0o755)          # the lab's container (root) binds the folders; the learner owns them
    return paths


def release(state: Path) -> list[str]:
    """Unmount every learner's disk of this class (their files stay in the images); the learners' names."""
    base = Path(state) / "disks"
    done = []
    for mount in sorted(p for p in base.glob("*") if p.is_dir()) if base.is_dir() else []:
        if os.path.ismount(mount):
            _run("umount", str(mount))
            done.append(mount.name)
    return done
