"""The engine's classic builder: stream a build through the Engine API (``labutils.docker.buildlog`` reads
its log, live or recorded)."""
from __future__ import annotations

import time

from docker.errors import APIError

from labutils.util import strip_ansi


def stream(api, *, context: str, tag: str, dockerfile: str, target, nocache: bool, buildargs: dict,
           labels: dict, on_line, platform: str | None = None) -> dict:
    """Run one classic build; ``on_line(text, t)`` gets each log line as it arrives.

    Returns the raw answer (log lines, their times, the image id, the engine's error).
    """
    lines, times, image_id, error = [], [], None, None
    pending = ""
    start = time.perf_counter()

    def emit(text: str) -> None:
        text = strip_ansi(text)
        t = round(time.perf_counter() - start, 3)
        lines.append(text)
        times.append(t)
        on_line(text, t)

    try:
        for chunk in api.build(path=context, tag=tag, dockerfile=dockerfile, target=target, nocache=nocache,
                               buildargs=buildargs, labels=labels, rm=True, forcerm=True, decode=True,
                               platform=platform):
            if "stream" in chunk:
                pending += chunk["stream"]
                *complete, pending = pending.split("\n")
                for text in complete:
                    emit(text)
            elif "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            elif "error" in chunk:
                error = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            elif "status" in chunk:
                emit(chunk["status"])
    except APIError as exc:
        error = exc.explanation or str(exc)
    if pending:
        emit(pending)
    return {"log": lines, "times": times, "image_id": image_id, "error": error,
            "seconds": round(time.perf_counter() - start, 3)}
