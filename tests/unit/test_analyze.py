"""analyze(): dive's efficiency and wasted bytes, on both `docker save` layouts (pure, no engine)."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from labutils.ops.analyze import analyze_archive
from labutils.util import tar_bytes

MB = 1_000_000


def _layer_tar(entries: dict, gz: bool) -> bytes:
    """entries: path -> bytes (a file), None (a folder) or 'whiteout' (a .wh. entry)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data in entries.items():
            info = tarfile.TarInfo(path)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                data = b"" if data == "whiteout" else data
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def save_archive(tmp_path, layers: list[dict], layout: str, gz: bool = False):
    """A `docker save`-shaped archive: the legacy layout, or the OCI one of Docker 25 and later."""
    blobs, names = {}, []
    for i, entries in enumerate(layers):
        data = _layer_tar(entries, gz)
        digest = hashlib.sha256(data).hexdigest()
        name = f"blobs/sha256/{digest}" if layout == "oci" else f"{i:064x}/layer.tar"
        blobs[name] = data
        names.append(name)
    config = json.dumps({"history": [{"created_by": f"step {i}"} for i in range(len(layers))]}).encode()
    config_name = (f"blobs/sha256/{hashlib.sha256(config).hexdigest()}" if layout == "oci" else "cfg.json")
    blobs[config_name] = config
    blobs["manifest.json"] = json.dumps([{"Config": config_name, "RepoTags": ["t:1"], "Layers": names}]).encode()
    if layout == "oci":
        blobs["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
        blobs["index.json"] = b'{"schemaVersion": 2, "manifests": []}'
    path = tmp_path / f"{layout}-{gz}.tar"
    path.write_bytes(tar_bytes(blobs))
    return path


WASTEFUL = [
    {"bin": None, "bin/app": b"a" * 1000, "etc": None, "etc/passwd": b"root:x:0:0\n"},
    {"junk": b"j" * (2 * MB)},
    {".wh.junk": "whiteout"},
]


@pytest.mark.parametrize("layout, gz", [("legacy", False), ("oci", False), ("oci", True)])
def test_a_file_added_then_deleted_is_wasted(tmp_path, layout, gz):
    a = analyze_archive(save_archive(tmp_path, WASTEFUL, layout, gz), "t:1")
    assert a.layout == layout
    assert a.wasted_bytes == 2 * MB
    assert a.efficiency == pytest.approx((1000 + 11) / (1000 + 11 + 2 * MB))
    assert list(a.inefficiencies["path"]) == ["/junk"]
    assert list(a.layers["deletes"]) == [0, 0, 1]
    assert a.layers.loc[1, "changed_later"] == 1 and a.layers.loc[1, "bytes_changed_later"] == 2 * MB
    assert list(a.layers["created_by"]) == ["step 0", "step 1", "step 2"]


def test_an_overwritten_file_counts_both_copies_and_a_clean_image_scores_one(tmp_path):
    a = analyze_archive(save_archive(tmp_path, [{"app": b"x" * 300}, {"app": b"y" * 100}], "legacy"))
    assert a.wasted_bytes == 400 and a.efficiency == pytest.approx(100 / 400)
    assert list(a.files["kind"]) == ["added", "modified"]
    clean = analyze_archive(save_archive(tmp_path, [{"app": b"x" * 300}, {"etc": None, "etc/x": b"1"}], "oci"))
    assert clean.wasted_bytes == 0 and clean.efficiency == 1.0


def test_a_deleted_folder_counts_what_it_held(tmp_path):
    layers = [{"cache": None, "cache/a": b"1" * 500, "cache/b": b"2" * 250}, {".wh.cache": "whiteout"}]
    a = analyze_archive(save_archive(tmp_path, layers, "oci", gz=True))
    deleted = a.files[a.files["kind"] == "deleted"]
    assert list(deleted["path"]) == ["/cache"] and deleted["bytes"].iloc[0] == 750
    b = analyze_archive(save_archive(tmp_path, [{"d": None, "d/old": b"o" * 40},
                                                {"d": None, "d/.wh..wh..opq": "whiteout", "d/new": b"n" * 5}],
                                     "legacy"))
    gone = b.files[b.files["kind"] == "deleted"]
    assert list(gone["path"]) == ["/d"] and gone["bytes"].iloc[0] == 40   # an opaque folder: its old content
    assert "/d/new" in set(b.files.loc[b.files["kind"] == "added", "path"])
