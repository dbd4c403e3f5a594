"""Small helpers that depend on nothing else in labutils."""
from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def human_size(size: float) -> str:
    """Bytes as Docker prints them: decimal units, three significant digits (``2.03MB``)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.3g}{unit}"
        size /= 1000
    raise AssertionError("unreachable")


def cmd_text(command) -> str | None:
    """A container command as ``docker run`` shows it: a string, or its words joined by spaces."""
    if command is None or isinstance(command, str):
        return command
    return " ".join(command)


def strip_ansi(text: str) -> str:
    """Text without terminal colour codes (the classic builder colours a RUN step's stderr)."""
    return _ANSI.sub("", text)


def digest(data: bytes) -> str:
    """sha256 of some bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def tar_bytes(files: dict[str, bytes], mode: int = 0o644) -> bytes:
    """An uncompressed tar archive holding ``{name: content}`` (mtime 0, so the same bytes every time)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@contextmanager
def locked(path: Path):
    """Hold an exclusive lock beside ``path`` (``<path>.lock``) for a block: writers of one file take turns.

    A lock, not a retry: two kernels of one learner that write the same file at once both keep their change.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file beside it, then a rename.

    A kill or a full disk mid-write leaves the previous file, never half of a new one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """sha256 of a file read in chunks (so a large file never sits in memory whole); of its target for a link."""
    if path.is_symlink():
        return "symlink:" + hashlib.sha256(os.readlink(path).encode()).hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()
