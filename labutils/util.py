"""Small helpers that depend on nothing else in labutils."""
from __future__ import annotations

import hashlib
import io
import re
import tarfile
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


def files_digest(folder, names) -> dict[str, str]:
    """``{relative path: sha256}`` of the named files (folders: every file under them; globs allowed)."""
    folder = Path(folder)
    out = {}
    for name in names:
        path = (folder / name).resolve()
        found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
            [path] if path.is_file() else sorted(folder.glob(name)))
        if not found:
            out[str(name)] = "missing"
        for p in found:
            out[str(p.relative_to(folder.resolve()))] = digest(p.read_bytes())
    return out


def tar_bytes(files: dict[str, bytes], mode: int = 0o644) -> bytes:
    """An uncompressed tar archive holding ``{name: content}`` (mtime 0, so the same bytes every time)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
