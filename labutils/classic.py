"""The engine's classic builder: stream a build through the Engine API, and read its log.

``stream()`` is the live half (it talks to the engine); ``steps()`` and ``View``
read a log, so they work the same on a recorded one.
"""
from __future__ import annotations

import re
import time
from collections.abc import Mapping

from docker.errors import APIError

from .util import strip_ansi

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


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


_REFUSED = re.compile(r"legacy builder|classic builder|builder version|only supported with buildkit|"
                      r"requires buildkit|buildkit is required|is not supported by the legacy", re.I)


def refused(answer: Mapping) -> bool:
    """True when the engine refused the classic builder itself (no step ran), as an engine without it would."""
    return bool(answer["error"]) and not any(_STEP.match(line) for line in answer["log"]) \
        and bool(_REFUSED.search(str(answer["error"])))


def _is_label_step(instruction: str) -> bool:
    return instruction.startswith("LABEL ") and "io.labutils." in instruction


class View:
    """The log as the learner's Dockerfile numbers it.

    labutils passes its labels through the API, and the classic builder runs them
    as more ``LABEL`` steps at the end: one per label on Debian's Docker 20.10
    ("Step 6/8" to "Step 8/8" under a five-line file), one for all of them where the
    engine joins them (moby's ``NodeFromLabels``). This view drops those steps and
    counts the learner's instructions only. ``labels`` is how many labels were passed;
    ``steps``, the learner's instruction count, tells the two apart.
    """

    def __init__(self, labels: int | bool = True, steps: int | None = None):
        self.labels = int(labels)
        self.steps = steps          # the learner's instructions, where known: settles one LABEL step or one per label
        self.hiding = False
        self.total: int | None = None

    def line(self, text: str) -> str | None:
        """The line as the learner sees it, or None for a line of labutils' own label steps."""
        m = _STEP.match(text)
        if m:
            n, total, instruction = int(m.group(1)), int(m.group(2)), m.group(3)
            ours = self.labels
            if self.labels and self.steps is not None and total - self.labels != self.steps and total - 1 == self.steps:
                ours = 1                                    # this engine runs every label as one LABEL step
            self.total = max(total - ours, 0)
            self.hiding = bool(self.labels) and n > self.total and _is_label_step(instruction)
            return None if self.hiding else f"Step {n}/{self.total} : {instruction}"
        if self.hiding and not text.startswith("Successfully "):
            return None
        self.hiding = False
        return text


def steps(lines, times, wall: float):
    """Split a classic log into steps: (number, instruction, seconds, cached, output); the label step dropped.

    Also returns the failing step (the one still open when the log ends), or None.
    """
    out: list[dict] = []
    current = None

    def close(now):
        nonlocal current
        if current is not None:
            out.append({**current, "seconds": max(0.0, now - current["start"])})
            current = None

    for text, t in zip(lines, times, strict=True):
        m = _STEP.match(text)
        if m:
            close(t)
            current = {"number": int(m.group(1)), "instruction": m.group(3).strip(), "start": t,
                       "cached": False, "lines": []}
        elif current is not None:
            if text.strip() == "---> Using cache":
                current["cached"] = True
            if not text.startswith("Successfully "):
                current["lines"].append(text)
    failing = current
    close(wall)
    out = [s for s in out if not _is_label_step(s["instruction"])]
    return out, failing
