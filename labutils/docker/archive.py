"""Reading a ``docker save`` archive into a listing: layer by layer, each entry's path and size.

Both layouts are read: the legacy one (``<id>/layer.tar``, Docker 24 and older)
and the OCI one (``blobs/sha256/<digest>``, Docker 25 and later), with plain or
gzip layers; ``manifest.json`` names the layers in order in both.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
from collections import Counter

from labutils.errors import LabError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def _members(archive: tarfile.TarFile, name: str) -> tuple[list[list], str]:
    """A layer's entries, and its files digest (see ``read_archive``)."""
    raw = archive.extractfile(name)
    if raw is None:
        raise LabError(f"The saved image has no layer {name}.", hint="save the image again.")
    out, described = [], []
    with tarfile.open(fileobj=raw, mode="r:*") as layer:
        for m in layer:
            name = m.name[2:] if m.name.startswith("./") else m.name
            path = "/" + posixpath.normpath(name).lstrip("/")
            if path == "/.":
                continue
            out.append([path, m.size if m.isreg() else 0, m.isdir(),
                        posixpath.basename(path).startswith(WHITEOUT)])
            content = ""
            if m.isreg():
                h = hashlib.sha256()
                fh = layer.extractfile(m)
                assert fh is not None, "a regular member has data"
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
                content = h.hexdigest()
            described.append(f"{path}\0{m.type.decode()}\0{m.mode:o}\0{m.uid}:{m.gid}\0{m.linkname}\0{content}")
    return out, "sha256:" + hashlib.sha256("\n".join(sorted(described)).encode()).hexdigest()


def read_archive(path) -> dict:
    """The listing of a saved image: layout, history, and per layer ``[path, size, is_dir, is_whiteout]``.

    ``files_digests`` has one digest per layer over what its files are (path,
    type, mode, owner, link target, content) and not when they were written. A
    layer's diff ID also covers the timestamps in its tar, so two builds that put
    the same binary in the same place get different diff IDs but the same files
    digest, on every engine and store.
    """
    with tarfile.open(path, mode="r:*") as archive:
        names = set(archive.getnames())
        manifest = read_json(archive, "manifest.json")[0]
        layout = "oci" if "oci-layout" in names or "index.json" in names else "legacy"
        config = read_json(archive, manifest["Config"])
        read = [_members(archive, name) for name in manifest["Layers"]]
    history = [h.get("created_by", "").replace("/bin/sh -c #(nop) ", "").strip()
               for h in config.get("history", []) if not h.get("empty_layer")]
    return {"layout": layout, "history": history, "layers": [entries for entries, _ in read],
            "files_digests": [files for _, files in read],
            "rest": [{"files": 0, "bytes": 0} for _ in read]}


def read_json(archive: tarfile.TarFile, name: str):
    """A JSON member of an image archive (``manifest.json``, a config).

    Raises:
        LabError: the archive has no such file (it is not an image archive).
    """
    try:
        fh = archive.extractfile(name)
    except KeyError:
        fh = None
    if fh is None:
        raise LabError(f"The archive has no {name}: it is not an image archive (`docker save` writes one).",
                       hint="check the file: a kit or a saved image is a tar with a manifest.json.")
    return json.load(fh)


def reduce(listing: dict) -> dict:
    """The listing with only what can be wasted kept entry by entry.

    A path found in one layer only, and never deleted, is folded into that
    layer's ``rest`` (its count and bytes), so a recording of a 300 MB image
    stays small while the layer totals, efficiency and waste stay exact.
    """
    counts = Counter(p for layer in listing["layers"] for p, _, is_dir, _ in layer if not is_dir)
    deleted = {posixpath.dirname(p) if posixpath.basename(p) == OPAQUE else
               posixpath.join(posixpath.dirname(p), posixpath.basename(p)[len(WHITEOUT):])
               for layer in listing["layers"] for p, _, _, wh in layer if wh}
    keep, rest = [], []
    for layer, before in zip(listing["layers"], listing["rest"], strict=True):
        kept, files, size = [], before["files"], before["bytes"]
        for entry in layer:
            path, nbytes, is_dir, wh = entry
            under_deleted = any(path == d or path.startswith(d + "/") for d in deleted)
            if is_dir or wh or counts[path] > 1 or under_deleted:
                if not is_dir or under_deleted:
                    kept.append(entry)
            else:
                files, size = files + 1, size + nbytes
        keep.append(kept)
        rest.append({"files": files, "bytes": size})
    return {**listing, "layers": keep, "rest": rest}
