"""Sizes, layers, the ``docker image ls``-style table, and ``clean()``."""
from __future__ import annotations

import fnmatch
from datetime import datetime, timezone

import pandas as pd
from docker.errors import APIError, ImageNotFound as _DockerImageNotFound, NotFound

from . import bases, engine, recording
from .errors import ImageNotFound


def human_size(size: float) -> str:
    """Bytes as Docker prints them: decimal units, three significant digits (``2.03MB``)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.3g}{unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _image(tag: str):
    try:
        return engine.client().images.get(engine.ref(tag))
    except _DockerImageNotFound:
        raise ImageNotFound(f"There is no image {tag!r} on this engine.",
                            hint="build it first (run the build cell above), or check the tag's spelling.") from None


@recording.replayable("image_size", key=lambda tag: {"tag": tag}, encode=int, image_arg="tag",
                      decode=lambda a, entry, **_: a, what=lambda tag: f"the size of {tag}")
def image_size(tag: str) -> int:
    """The image's size in bytes, as ``docker image inspect`` gives it."""
    return _image(tag).attrs["Size"]


@recording.replayable("image_exists", key=lambda tag: {"tag": tag}, encode=bool,
                      decode=lambda a, entry, **_: a, what=lambda tag: f"whether {tag} exists")
def image_exists(tag: str) -> bool:
    """True when the engine has an image of that name."""
    return bases.exists(engine.ref(tag))


def _layers_from(a, entry, **_) -> pd.DataFrame:
    df = recording.frame_from(a)
    df["created"] = pd.to_datetime(df["created"], utc=True)
    return df


@recording.replayable("layers", key=lambda tag: {"tag": tag}, encode=recording.frame_answer, image_arg="tag",
                      decode=_layers_from, what=lambda tag: f"docker history {tag}")
def layers(tag: str) -> pd.DataFrame:
    """``docker history``: one row per layer, newest first, with bytes and what made it."""
    rows = []
    for h in _image(tag).history():
        rows.append({"created_by": (h.get("CreatedBy") or h.get("Comment") or "").replace("/bin/sh -c #(nop) ", "").strip(),
                     "size": human_size(h.get("Size", 0)), "bytes": h.get("Size", 0),
                     "created": datetime.fromtimestamp(h.get("Created", 0), timezone.utc)})
    return pd.DataFrame(rows, columns=["created_by", "size", "bytes", "created"])


def _matches(name: str, reference: str) -> bool:
    """As Docker's reference filter: an image with several tags shows only the tags that match."""
    repo = name.rpartition(":")[0]
    return fnmatch.fnmatchcase(name, reference) or fnmatch.fnmatchcase(repo, reference)


@recording.replayable("images", key=lambda tags, reference: {"tags": list(tags), "reference": reference},
                      encode=recording.frame_answer, decode=lambda a, entry, **_: recording.frame_from(a),
                      what=lambda tags, reference: "docker image ls " + " ".join(tags or [reference or ""]))
def images(*tags: str, reference: str | None = None) -> pd.DataFrame:
    """``docker image ls`` of what labutils built, sizes as Docker shows them.

    Give tags to list exactly those, or ``reference`` to filter as
    ``docker image ls --filter reference='welcome*'`` does.
    """
    cli = engine.client()
    filters = {"label": engine.LABEL, **({"reference": engine.ref(reference)} if reference else {})}
    found = [_image(t) for t in tags] if tags else [i for i in cli.images.list(filters=filters)
                                                    if engine.mine(i.labels)]
    pairs = (zip(tags, found) if tags else
             ((engine.plain(name), img) for img in found for name in (img.tags or ["<none>:<none>"])
              if not reference or _matches(engine.plain(name), reference)))
    rows = []
    for name, img in pairs:
        repo, _, tag = name.rpartition(":")
        rows.append({"repository": repo, "tag": tag, "image_id": img.short_id.split(":")[1],
                     "size": human_size(img.attrs["Size"]), "size_bytes": img.attrs["Size"]})
    df = pd.DataFrame(rows, columns=["repository", "tag", "image_id", "size", "size_bytes"])
    return df if tags else df.sort_values(["repository", "tag"], ignore_index=True)


def clean(dry_run: bool = False, everyone: bool = False) -> pd.DataFrame:
    """Remove every container and image that carries labutils' label, and nothing else.

    Only this namespace's (LABUTILS_NAMESPACE; unset: only what has none);
    ``everyone=True`` is for the instructor of a shared engine. Returns what
    was (or, with ``dry_run``, would be) removed. In recorded mode there is no
    engine and so nothing to remove.
    """
    columns = ["kind", "name", "id", "removed"]
    if engine.mode() == "recorded":
        print("[labutils] recorded mode: no engine is used, so there is nothing to clean.")
        return pd.DataFrame(columns=columns)
    cli = engine.client()
    rows = []
    for c in cli.containers.list(all=True, ignore_removed=True, filters={"label": engine.LABEL}):
        if not (everyone or engine.mine(c.labels)):
            continue
        rows.append({"kind": "container", "name": c.name, "id": c.short_id, "removed": False})
        if not dry_run:
            try:
                c.remove(force=True)
                rows[-1]["removed"] = True
            except NotFound:
                rows[-1]["removed"] = True
    for img in cli.images.list(filters={"label": engine.LABEL}):
        if not (everyone or engine.mine(img.labels)):
            continue
        name = ", ".join(img.tags) or "<none>"
        rows.append({"kind": "image", "name": name, "id": img.short_id.split(":")[1], "removed": False})
        if dry_run:
            continue
        try:
            for t in img.tags or [img.id]:
                cli.images.remove(t, noprune=False)
            rows[-1]["removed"] = True
        except NotFound:
            rows[-1]["removed"] = True
        except APIError as exc:
            rows[-1]["note"] = engine._short(exc)
    return pd.DataFrame(rows, columns=[*columns, *(
        ["note"] if any("note" in r for r in rows) else [])])
