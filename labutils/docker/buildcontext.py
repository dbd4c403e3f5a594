"""What a build reads from its context, found as Docker finds it, and never a byte outside it.

COPY and ADD sources are paths in the build context, not on the host: ``/a.txt``
is the context's ``a.txt``, ``/`` the whole context. ``.dockerignore`` is applied
first (docker-py's own matcher, the one that packs the context it sends), globs
match within one path segment as Go's ``filepath.Match`` does, and symbolic links
are never followed: a link is known by where it points, not by what it reaches.
A source that climbs out of the context is left for the engine to refuse, by line.
"""
from __future__ import annotations

import os
import posixpath
from fnmatch import fnmatchcase
from pathlib import Path

from docker.utils.build import exclude_paths

from labutils.docker import dockerfile
from labutils.util import file_digest

OUTSIDE = "outside the build context"
MISSING = "missing"


def ignore_patterns(context: Path) -> list[str]:
    """The patterns of ``context/.dockerignore`` (none when there is no such file), as docker-py reads them."""
    path = context / ".dockerignore"
    if not path.is_file() or path.is_symlink():
        return []
    lines = path.read_text(errors="replace").splitlines()
    return [p.strip() for p in lines if p.strip() and not p.strip().startswith("#")]


def entries(context: Path, dockerfile: str = "Dockerfile") -> dict[str, str]:
    """Every path the engine receives from ``context``: ``{posix path: 'file' | 'dir' | 'link'}``."""
    found = {}
    for rel in exclude_paths(str(context), ignore_patterns(context), dockerfile=dockerfile):
        rel = rel.replace(os.sep, "/")
        full = context / rel
        kind = "link" if full.is_symlink() else "dir" if full.is_dir() else "file" if full.is_file() else ""
        if kind:
            found[rel] = kind
    return found


def clean_source(source: str) -> str | None:
    """A COPY source as a path in the context (``/x`` and ``./x`` are ``x``; the root is ``.``); None if it leaves it."""
    path = posixpath.normpath(source)
    if path.startswith("/"):
        return path.lstrip("/") or "."
    return None if path == ".." or path.startswith("../") else path


def _glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def match(found: dict[str, str], source: str) -> list[str]:
    """The context's paths that one cleaned source names (folders expanded to what they hold)."""
    if source == ".":
        roots = list(found)
    elif _glob(source):
        parts = source.split("/")
        roots = [p for p in found if len(p.split("/")) == len(parts)
                 and all(fnmatchcase(a, b) for a, b in zip(p.split("/"), parts, strict=True))]
    else:
        roots = [source] if source in found else []
    out = set()
    for root in roots:
        out.add(root)
        if found.get(root) == "dir" or root == ".":
            prefix = "" if root == "." else root + "/"
            out.update(p for p in found if p.startswith(prefix))
    return sorted(p for p in out if found.get(p) in ("file", "link"))


def copy_sources(df_path: Path) -> list[tuple[int, list[str]]]:
    """``(line, sources)`` of each COPY/ADD from the context (not ``--from``).

    Raises:
        BuildFailed: an instruction's JSON form is malformed (names the line and what to write).
    """
    return [(i.line, list(i.args[:-1])) for i in dockerfile.read(df_path).copies(from_context=True)]


def inputs(context: Path, df_path: Path) -> dict[str, str]:
    """Digests of what a build reads: the Dockerfile and the context files its COPY/ADD name.

    Keyed by path in the context; a source that matches nothing is ``missing`` and one that
    climbs out of the context is ``outside the build context`` (the engine refuses both, by line).

    Raises:
        BuildFailed: a COPY/ADD line is malformed.
    """
    found: dict[str, str] | None = None
    files: dict[str, str] = {}
    for _line, sources in copy_sources(df_path):
        for source in sources:
            rel = clean_source(source)
            if rel is None:
                files[source] = OUTSIDE
                continue
            if found is None:
                found = entries(context, df_path.name)
            matched = match(found, rel)
            if not matched:
                files[source] = MISSING
            for path in matched:
                files[path] = file_digest(context / path)
    files[df_path.name] = file_digest(df_path)
    return files
