"""Sizes, layers, the ``docker image ls``-style table, and ``clean()``. Taught in notebooks 01-05."""
from __future__ import annotations

import fnmatch
from datetime import datetime, timezone

import pandas as pd

from . import engine
from .backend import backend
from .errors import ImageNotFound
from .util import human_size


def _frame(rows, columns) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    label = backend().describe()["label"]
    if label:
        df.attrs["recorded"] = label
    return df


def image_size(tag: str) -> int:
    """The image's size in bytes, as ``docker image inspect`` gives it.

    Raises:
        ImageNotFound: there is no such image.
    """
    return backend().inspect(tag)["size"]


def image_exists(tag: str) -> bool:
    """True when the engine has an image of that name (in this learner's namespace)."""
    return backend().exists(engine.ref(tag))


def inspect(tag: str) -> dict:
    """What labutils reads of ``docker image inspect``: id, size, layer digests (diff ids), user, labels.

    Raises:
        ImageNotFound: there is no such image.
    """
    return backend().inspect(tag)


def layers(tag: str) -> pd.DataFrame:
    """``docker history``: one row per layer, newest first, with bytes and what made it.

    Raises:
        ImageNotFound: there is no such image.
    """
    rows = [{"created_by": h["created_by"], "size": human_size(h["bytes"]), "bytes": h["bytes"],
             "created": datetime.fromtimestamp(h["created"], timezone.utc)} for h in backend().history(tag)]
    return _frame(rows, ["created_by", "size", "bytes", "created"])


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


__all__ = ["image_size", "image_exists", "inspect", "layers", "images", "clean", "human_size", "ImageNotFound"]
