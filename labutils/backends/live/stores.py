"""Image stores and the sizes each knows: the graph driver (one size) or containerd (three).

Taught in notebook 01 ("What image size means on your engine"); used by ``live``.
"""
from __future__ import annotations

from labutils.backends.live import dockerapi, engine
from labutils.seam import ImageInfo

_stores: dict = {}
engine.on_reset(_stores.clear)


def image_store() -> str:
    """``containerd`` when the engine keeps images in the containerd image store, else its graph driver
    (``overlay2``, ``vfs``, ...). Asked once per address.

    Raises:
        EngineUnavailable: no engine answered.
    """
    url = engine.engine_url()
    if url not in _stores:
        info = engine.client(fresh=False).info()
        status = dict(tuple(pair) for pair in (info.get("DriverStatus") or []) if len(pair) == 2)
        snapshotter = "snapshotter" in str(status.get("driver-type", ""))
        _stores[url] = "containerd" if snapshotter else (info.get("Driver") or "unknown")
    return _stores[url]


def sizes(name: str, attrs: dict, rows: list[dict] | None = None) -> dict:
    """An image's sizes, each named for what it is: ``size`` (unpacked), ``content``, ``total``, ``store``.

    The graph driver has one size, the unpacked one (inspect's Size). On the
    containerd store inspect's Size is the compressed content; the unpacked size
    comes from ``GET /images/json?manifests=1`` (API 1.47+), summed over the
    image manifests that are here (``rows``: ``platform_rows``, read once by the caller).
    Where it is unknown, ``size`` is the content.
    """
    store = image_store()
    if store != "containerd":
        return {"size": attrs.get("Size", 0), "content": None, "total": None, "store": store}
    content = attrs.get("Size", 0)
    values = [r["size"] for r in (platform_rows(name, attrs) if rows is None else rows)
              if r["available"] and r["size"] is not None]
    unpacked = sum(values) if values else None
    return {"size": unpacked if unpacked is not None else content, "content": content,
            "total": content + unpacked if unpacked is not None else None, "store": store}


def _at_least(version: str, wanted: str) -> bool:
    return tuple(int(x) for x in version.split(".")) >= tuple(int(x) for x in wanted.split("."))


def image_summary(attrs: dict, sizes: dict) -> ImageInfo:
    """The few fields of ``docker image inspect`` that labutils uses, with the image's sizes.

    ``sizes`` comes from ``stores.sizes``: ``size`` is the unpacked size (the files,
    as the graph driver counts them and as the book's figures are); ``content``
    (compressed, what is pushed and pulled) and ``total`` (both, as ``docker images``
    shows on the containerd store) are None where the engine has no such size.
    """
    return {"id": attrs["Id"], "size": sizes["size"], "content": sizes["content"], "total": sizes["total"],
            "store": sizes["store"], "diff_ids": list((attrs.get("RootFS") or {}).get("Layers") or []),
            "user": (attrs.get("Config") or {}).get("User") or "",
            "labels": (attrs.get("Config") or {}).get("Labels") or {}, "platform": platform_of(attrs)}


def platform_of(data: dict) -> str:
    """``os/arch[/variant]`` from an image config or an OCI platform (``Os``/``os``, ``Architecture``, ...)."""
    def get(name):
        return data.get(name.capitalize()) or data.get(name) or ""
    parts = [get("os") or "linux", get("architecture") or "unknown", get("variant")]
    return "/".join(p for p in parts if p)


def platform_rows(name: str, attrs: dict) -> list[dict]:
    """One row per platform the tag names: ``platform``, ``size`` (unpacked), ``content`` bytes and
    ``available`` (its content is here; an index pulled from a registry names platforms it did not fetch).

    On the containerd store a tag can be an index of several platforms (``docker buildx build
    --platform a,b``): each image manifest is a row. The graph driver keeps one platform per tag: one
    row, its config's platform. A platform whose layers are here but not yet unpacked (containerd unpacks
    another platform's image when a container of it is first created) has size 0 (``packed``); where the
    engine does not say (API before 1.47), None.
    """
    if image_store() != "containerd":
        return [{"platform": platform_of(attrs), "size": attrs.get("Size", 0), "content": None, "available": True}]
    if not _at_least(dockerapi.api_version(), "1.47"):
        return [{"platform": platform_of(attrs), "size": None, "content": attrs.get("Size", 0), "available": True}]
    rows = []
    for summary in dockerapi.image_summaries(name):
        if summary.get("Id") != attrs["Id"]:
            continue
        for m in summary.get("Manifests") or []:
            if m.get("Kind") == "image":
                data = m.get("ImageData") or {}
                rows.append({"platform": platform_of(data.get("Platform") or (m.get("Descriptor") or {}).get("platform")
                                                     or {}),
                             "size": (data.get("Size") or {}).get("Unpacked"),
                             "content": (m.get("Size") or {}).get("Content"), "available": bool(m.get("Available"))})
    return rows or [{"platform": platform_of(attrs), "size": None, "content": attrs.get("Size", 0), "available": True}]


def packed(row: dict) -> bool:
    """Whether a ``platform_rows`` row's layers are here but not unpacked (containerd store only)."""
    return row["available"] and row["size"] == 0 and bool(row["content"])
