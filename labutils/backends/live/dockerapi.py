"""docker-py's private request helpers, wrapped once.

docker-py has no public call for two endpoints labutils needs: ``GET /images/json``
with ``manifests=1`` (the unpacked size on the containerd store, API 1.47+) and
``GET /images/get`` with several names streamed to a file (a kit). Both use
``APIClient._get``/``_url``/``_result``/``_raise_for_status``, which are private:
pyproject pins docker to the 7.x series they are known in, and only this module touches them.
"""
from __future__ import annotations

import json
from collections.abc import Iterator

from labutils.backends.live import engine


def image_summaries(reference: str, manifests: bool = True) -> list[dict]:
    """``GET /images/json?manifests=1&filters={"reference": [reference]}``."""
    api = engine.client(fresh=False).api
    res = api._get(api._url("/images/json"),
                   params={"manifests": int(manifests), "filters": json.dumps({"reference": [reference]})})
    return api._result(res, json=True)


def api_version() -> str:
    """The API version negotiated with the engine."""
    return engine.client(fresh=False).api.api_version


def export_images(names: list[str], chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """``GET /images/get?names=...``: one tar of several images, streamed."""
    api = engine.client().api
    res = api._get(api._url("/images/get"), params={"names": names}, stream=True)
    api._raise_for_status(res)
    yield from res.iter_content(chunk_size=chunk_size)
