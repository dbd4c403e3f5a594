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

import json
import posixpath
import tarfile
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import engine, recording
from .errors import ImageNotFound, LabError
from .images import human_size

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


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
                f"wasted={human_size(self.wasted_bytes)!r}, layout={self.layout!r})")


def _layer_members(archive: tarfile.TarFile, name: str) -> list[tuple[str, int, bool, bool]]:
    """(path, size, is_dir, is_whiteout) for each entry of one layer (plain or gzip)."""
    raw = archive.extractfile(name)
    if raw is None:
        raise LabError(f"The saved image has no layer {name}.", hint="save the image again.")
    out = []
    with tarfile.open(fileobj=raw, mode="r:*") as layer:
        for m in layer:
            name = m.name[2:] if m.name.startswith("./") else m.name
            path = "/" + posixpath.normpath(name).lstrip("/")
            if path == "/.":
                continue
            base = posixpath.basename(path)
            out.append((path, m.size if m.isreg() else 0, m.isdir(), base.startswith(WHITEOUT)))
    return out


def read_archive(path) -> tuple[str, list[str], dict, list[list[tuple]]]:
    """The layout, layer names, image config and per-layer members of a ``docker save`` archive."""
    with tarfile.open(path, mode="r:*") as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile("manifest.json"))[0]
        layout = "oci" if "oci-layout" in names or "index.json" in names else "legacy"
        config = json.load(archive.extractfile(manifest["Config"]))
        layers = [_layer_members(archive, name) for name in manifest["Layers"]]
    return layout, manifest["Layers"], config, layers


def analyze_archive(path, tag: str = "") -> Analysis:
    """Analyze a saved image archive (what ``analyze`` does after ``docker save``)."""
    layout, names, config, layers = read_archive(path)
    history = [h.get("created_by", "").replace("/bin/sh -c #(nop) ", "").strip()
               for h in config.get("history", []) if not h.get("empty_layer")]
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
    files["changed_later"] = [last[p] > layer for p, layer in zip(files["path"], files["layer"])]
    for index, name in enumerate(names):
        mine = files[files["layer"] == index]
        later = mine[mine["changed_later"] & (mine["kind"] != "deleted")]
        layer_rows.append({"layer": index, "created_by": history[index] if index < len(history) else "",
                           "files": int((mine["kind"] != "deleted").sum()),
                           "bytes": int(mine.loc[mine["kind"] != "deleted", "bytes"].sum()),
                           "deletes": int((mine["kind"] == "deleted").sum()),
                           "changed_later": len(later), "bytes_changed_later": int(later["bytes"].sum())})
    total = sum(e["total"] for e in seen.values())
    smallest = sum(e["smallest"] for e in seen.values())
    wasteful = [{"path": p, "copies": e["copies"], "total_bytes": e["total"], "smallest_bytes": e["smallest"],
                 "layers": e["layers"]} for p, e in seen.items() if e["copies"] > 1]
    inefficiencies = pd.DataFrame(wasteful, columns=["path", "copies", "total_bytes", "smallest_bytes", "layers"])
    inefficiencies = inefficiencies.sort_values("total_bytes", ascending=False, ignore_index=True)
    return Analysis(tag=tag, layout=layout, efficiency=smallest / total if total else 1.0,
                    wasted_bytes=int(inefficiencies["total_bytes"].sum()),
                    image_bytes=int(sum(r["bytes"] for r in layer_rows)),
                    layers=pd.DataFrame(layer_rows), files=files, inefficiencies=inefficiencies)


def _encode(a: Analysis) -> dict:
    return {"tag": a.tag, "layout": a.layout, "efficiency": a.efficiency, "wasted_bytes": a.wasted_bytes,
            "image_bytes": a.image_bytes, "layers": recording.frame_answer(a.layers),
            "inefficiencies": recording.frame_answer(a.inefficiencies),
            "files": recording.frame_answer(a.files[a.files["changed_later"]])}


def _decode(d: dict, entry, **_) -> Analysis:
    return Analysis(d["tag"], d["layout"], d["efficiency"], d["wasted_bytes"], d["image_bytes"],
                    recording.frame_from(d["layers"]), recording.frame_from(d["files"]),
                    recording.frame_from(d["inefficiencies"]))


@recording.replayable("analyze", key=lambda tag: {"tag": tag}, encode=_encode, decode=_decode, image_arg="tag",
                      what=lambda tag: f"the layer analysis of {tag}")
def analyze(tag: str) -> Analysis:
    """Save ``tag`` through the Engine API and analyze its layers (dive's efficiency and waste)."""
    from docker.errors import ImageNotFound as _NotFound
    try:
        image = engine.client().images.get(engine.ref(tag))
    except _NotFound:
        raise ImageNotFound(f"There is no image {tag!r} on this engine.",
                            hint="build it first, or check the tag's spelling.") from None
    with tempfile.TemporaryDirectory(prefix="labutils-save-") as tmp:
        path = Path(tmp) / "image.tar"
        with open(path, "wb") as fh:
            for chunk in image.save(named=True):
                fh.write(chunk)
        return analyze_archive(path, tag)
