"""Sizes, layers, the ``docker image ls``-style table, and ``clean()``. Taught in notebooks 01-05."""
from __future__ import annotations

import fnmatch
from datetime import datetime, timezone

import pandas as pd

from labutils import names
from labutils.backends import backend, tag_recorded
from labutils.errors import ImageNotFound
from labutils.seam import ImageInfo
from labutils.util import human_size


def _frame(rows, columns) -> pd.DataFrame:
    return tag_recorded(pd.DataFrame(rows, columns=columns))


def image_size(tag: str) -> int:
    """The image's unpacked size in bytes (its files; ``docker image inspect``'s Size on a graph driver).

    On the containerd store, inspect's Size is the compressed content; see ``image_sizes`` for every kind.

    Raises:
        ImageNotFound: there is no such image.
    """
    return backend().inspect(tag)["size"]


SIZE_KINDS = {
    "unpacked": "the image's files, unpacked on disk: what the graph driver reports, and the book's figures",
    "content": "compressed layers: what is pushed to and pulled from a registry",
    "total": "unpacked + content: what `docker images` shows on the containerd image store",
}


def image_sizes(tag: str) -> pd.DataFrame:
    """Every size the engine knows for ``tag``, one row per kind, each named for what it is.

    The graph driver (overlay2) keeps only unpacked files, so it knows one size.
    The containerd image store keeps the compressed content as well, and knows
    three (API 1.47+). ``known`` is False for a size this engine does not have.

    Raises:
        ImageNotFound: there is no such image.
    """
    s = backend().inspect(tag)
    values: dict[str, int | None] = {"unpacked": s["size"], "content": s.get("content"), "total": s.get("total")}
    rows = [{"kind": kind, "bytes": v, "size": human_size(v) if v is not None else "", "known": v is not None,
             "what it is": what} for kind, what in SIZE_KINDS.items() for v in [values[kind]]]
    df = _frame(rows, ["kind", "bytes", "size", "known", "what it is"])
    df.attrs["store"] = s.get("store", "")
    return df


def image_exists(tag: str) -> bool:
    """True when the engine has an image of that name (in this learner's namespace)."""
    return backend().exists(names.ref(tag))


def inspect(tag: str) -> ImageInfo:
    """What labutils reads of ``docker image inspect``: id, size, layer digests (diff ids), user, labels.

    Raises:
        ImageNotFound: there is no such image.
    """
    return backend().inspect(tag)


def layers(tag: str, *, own: bool = False) -> pd.DataFrame:
    """``docker history``: one row per layer, newest first, with bytes and what made it.

    labutils' own label steps (``LABEL io.labutils...``: the classic builder records the labels it is given
    as steps, and the stand-ins carry theirs) are left out, and counted in ``attrs["left_out"]``: they hold
    no bytes and are not the learner's.

    Args:
        tag: the image.
        own: keep labutils' label steps too (what ``docker history`` itself lists).

    Raises:
        ImageNotFound: there is no such image.

    Example:
        >>> lu.layers("welcome:v1")[["created_by", "size"]]
    """
    every = backend().history(tag)
    kept = [h for h in every if own or not _labutils_label_step(h["created_by"])]
    rows = [{"created_by": h["created_by"], "size": human_size(h["bytes"]), "bytes": h["bytes"],
             "created": datetime.fromtimestamp(h["created"], timezone.utc)} for h in kept]
    frame = _frame(rows, ["created_by", "size", "bytes", "created"])
    frame.attrs["left_out"] = len(every) - len(kept)
    return frame


def _labutils_label_step(created_by: str) -> bool:
    """A history row that only sets labutils' labels (``LABEL io.labutils.ref=...``), nothing of the learner's."""
    text = created_by.replace("/bin/sh -c #(nop)", "").strip()
    if not text.startswith("LABEL "):
        return False
    pairs = text[len("LABEL "):].split()
    return bool(pairs) and all(p.startswith("io.labutils.") for p in pairs)


def layer_digests(tag: str) -> pd.DataFrame:
    """Each layer's two digests, oldest first: the engine's diff ID, and a digest of its files.

    The diff ID is the digest of the layer's tar, timestamps included, so two
    builds that copy the same binary to the same place differ there. The files
    digest covers path, mode, owner and content only (``archive.read_archive``):
    equal files digests mean the layers hold the same files, byte for byte, on
    every engine and image store. Reads ``docker save``, so it suits small images.

    Raises:
        ImageNotFound: there is no such image.
    """
    summary, listing = backend().inspect(tag), backend().save(tag)
    rows = []
    for i, (diff_id, files) in enumerate(zip(summary["diff_ids"], listing["files_digests"], strict=False), start=1):
        layer = listing["layers"][i - 1]
        extra = listing["rest"][i - 1]
        rows.append({"layer": i, "created_by": (listing["history"] + [""] * i)[i - 1],
                     "bytes": sum(e[1] for e in layer) + extra["bytes"], "diff_id": diff_id, "files_digest": files})
    return _frame(rows, ["layer", "created_by", "bytes", "diff_id", "files_digest"])


def same_files(a: str, b: str) -> bool:
    """True when the last layers of images ``a`` and ``b`` hold the same files (equal files digests)."""
    return layer_digests(a)["files_digest"].iloc[-1] == layer_digests(b)["files_digest"].iloc[-1]


def _matches(name: str, reference: str) -> bool:
    """As Docker's reference filter: an image with several tags shows only the tags that match."""
    repo = name.rpartition(":")[0]
    return fnmatch.fnmatchcase(name, reference) or fnmatch.fnmatchcase(repo, reference)


def images(*tags: str, reference: str | None = None) -> pd.DataFrame:
    """``docker image ls`` of what labutils built, sizes as Docker shows them.

    Give tags to list exactly those, or ``reference`` to filter as
    ``docker image ls --filter reference='welcome*'`` does.

    Raises:
        ImageNotFound: a tag named is not there.
    """
    found = backend().images(list(tags), reference)
    rows = []
    for f in found:
        if not tags and reference and not _matches(f["name"], reference):
            continue
        repo, _, tag = f["name"].rpartition(":")
        rows.append({"repository": repo, "tag": tag, "image_id": f["id"].split(":")[-1][:12],
                     "size": human_size(f["size"]), "size_bytes": f["size"]})
    df = _frame(rows, ["repository", "tag", "image_id", "size", "size_bytes"])
    return df if tags else df.sort_values(["repository", "tag"], ignore_index=True)


def clean(dry_run: bool = False, everyone: bool = False) -> pd.DataFrame:
    """Remove every container and image that carries labutils' label, and nothing else.

    Only this namespace's (LABUTILS_NAMESPACE; unset: only what has none);
    ``everyone=True`` is for the instructor of a shared engine. Returns what
    was (or, with ``dry_run``, would be) removed. In recorded mode there is no
    engine and so nothing to remove.
    """
    rows = backend().remove(dry_run, everyone)
    columns = ["kind", "name", "id", "removed"] + (["note"] if any("note" in r for r in rows) else [])
    return pd.DataFrame(rows, columns=columns)


__all__ = ["image_size", "image_sizes", "image_exists", "inspect", "layers", "layer_digests", "same_files", "images",
           "clean", "human_size", "ImageNotFound"]
