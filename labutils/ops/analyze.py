"""``analyze(tag)``: what each layer of an image holds, and what a later layer wastes.

The image is saved through the Engine API (``docker save``) and read with
``tarfile``. Both archive layouts are read: the legacy one (``<id>/layer.tar``,
Docker 24 and older) and the OCI one (``blobs/sha256/<digest>``, Docker 25 and
later), with plain or gzip layers; ``manifest.json`` names the layers in order
in both.

Efficiency and wasted bytes follow dive's definitions: every path seen in any
layer (a file, or a whiteout that deletes one) is a copy; a path's smallest copy
is all the final image needs; the score is the sum of the smallest copies over
the sum of all copies, and the wasted bytes are the total size of every path
that appears in more than one layer. A whiteout of a file counts 0 bytes; a
whiteout of a folder counts what it deletes.
"""
from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from labutils.backends import backend
from labutils.docker.archive import OPAQUE, WHITEOUT, read_archive
from labutils.util import human_size


@dataclass(frozen=True)
class Analysis:
    """One image, layer by layer: ``layers`` and ``files`` DataFrames, efficiency and waste."""
    tag: str
    layout: str
    efficiency: float
    wasted_bytes: int
    image_bytes: int
    layers: pd.DataFrame = field(repr=False)
    files: pd.DataFrame = field(repr=False)
    inefficiencies: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        return (f"Analysis(tag={self.tag!r}, layers={len(self.layers)}, efficiency={self.efficiency:.2%}, "
                f"wasted={human_size(self.wasted_bytes)!r})")


def analyze_archive(path, tag: str = "") -> Analysis:
    """Analyze a saved image archive (what ``analyze`` does after ``docker save``)."""
    return analyze_listing(read_archive(path), tag)


def analyze_listing(listing: dict, tag: str = "") -> Analysis:
    """Analyze a listing (``archive.read_archive``, or its ``reduce``d form: the same totals)."""
    layout, history, layers, rest = listing["layout"], listing["history"], listing["layers"], listing["rest"]
    names = range(len(layers))
    present: dict[str, int] = {}          # the stacked tree so far: path -> size (files), -1 (folders)
    seen: dict[str, dict] = defaultdict(lambda: {"copies": 0, "total": 0, "smallest": None, "layers": []})
    file_rows, layer_rows = [], []
    for index, members in enumerate(layers):
        for path, size, is_dir, whiteout in members:
            if whiteout:
                base = posixpath.basename(path)
                if base == OPAQUE:                   # the folder stays, everything below it goes
                    target = posixpath.dirname(path)
                    gone = [p for p in present if p.startswith(target.rstrip("/") + "/")]
                    size = sum(present[p] for p in gone if present[p] > 0)
                else:
                    target = posixpath.join(posixpath.dirname(path), base[len(WHITEOUT):])
                    gone = [p for p in present if p == target or p.startswith(target + "/")]
                    was_folder = present.get(target) == -1
                    size = sum(present[p] for p in gone if present[p] > 0) if was_folder else 0
                for p in gone:
                    del present[p]
                kind, path = "deleted", target
            else:
                kind = "modified" if path in present else "added"
                present[path] = -1 if is_dir else size
            if is_dir and kind != "deleted":
                continue
            entry = seen[path]
            entry["copies"] += 1
            entry["total"] += size
            entry["smallest"] = size if entry["smallest"] is None else min(entry["smallest"], size)
            entry["layers"].append(index)
            file_rows.append({"layer": index, "path": path, "bytes": size, "kind": kind})
    files = pd.DataFrame(file_rows, columns=["layer", "path", "bytes", "kind"])
    last = {p: e["layers"][-1] for p, e in seen.items()}
    files["changed_later"] = [last[p] > layer for p, layer in zip(files["path"], files["layer"], strict=True)]
    for index in range(len(names)):
        mine = files[files["layer"] == index]
        later = mine[mine["changed_later"] & (mine["kind"] != "deleted")]
        layer_rows.append({"layer": index, "created_by": history[index] if index < len(history) else "",
                           "files": int((mine["kind"] != "deleted").sum()) + rest[index]["files"],
                           "bytes": int(mine.loc[mine["kind"] != "deleted", "bytes"].sum()) + rest[index]["bytes"],
                           "deletes": int((mine["kind"] == "deleted").sum()),
                           "changed_later": len(later), "bytes_changed_later": int(later["bytes"].sum())})
    folded = sum(r["bytes"] for r in rest)       # single copies: each its own smallest
    total = sum(e["total"] for e in seen.values()) + folded
    smallest = sum(e["smallest"] for e in seen.values()) + folded
    wasteful = [{"path": p, "copies": e["copies"], "total_bytes": e["total"], "smallest_bytes": e["smallest"],
                 "layers": e["layers"]} for p, e in seen.items() if e["copies"] > 1]
    inefficiencies = pd.DataFrame(wasteful, columns=["path", "copies", "total_bytes", "smallest_bytes", "layers"])
    inefficiencies = inefficiencies.sort_values("total_bytes", ascending=False, ignore_index=True)
    return Analysis(tag=tag, layout=layout, efficiency=smallest / total if total else 1.0,
                    wasted_bytes=int(inefficiencies["total_bytes"].sum()),
                    image_bytes=int(sum(r["bytes"] for r in layer_rows)),
                    layers=pd.DataFrame(layer_rows), files=files, inefficiencies=inefficiencies)


def analyze(tag: str) -> Analysis:
    """Save ``tag`` through the Engine API and analyze its layers (dive's efficiency and waste).

    Taught in notebook 07. Recorded answers keep, file by file, only what a later
    layer changes; the layer totals, efficiency and waste are the live ones.

    Raises:
        ImageNotFound: there is no such image.
    """
    return analyze_listing(backend().save(tag), tag)
