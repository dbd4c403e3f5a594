"""Build logs as each builder prints them, read into steps: the classic builder's ``Step n/m`` log, and
BuildKit's ``--progress=plain`` vertices. Pure text in, steps out: the live backend streams the logs, the
recorded mode replays them, and ``labutils.ops.build`` reads them here."""
from __future__ import annotations

import re
from collections.abc import Mapping

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


# --- the classic builder ------------------------------------------------------

_REFUSED = re.compile(r"legacy builder|classic builder|builder version|only supported with buildkit|"
                      r"requires buildkit|buildkit is required|is not supported by the legacy", re.I)


def refused(answer: Mapping) -> bool:
    """True when the engine refused the classic builder itself (no step ran), as an engine without it would."""
    return bool(answer["error"]) and not any(_STEP.match(line) for line in answer["log"]) \
        and bool(_REFUSED.search(str(answer["error"])))


def _is_label_step(instruction: str) -> bool:
    return instruction.startswith("LABEL ") and "io.labutils." in instruction


class ClassicView:
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


def classic_steps(lines, times, wall: float):
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


# --- BuildKit (--progress=plain) ------------------------------------------------

_VERTEX = re.compile(r"^#(\d+) \[(?P<label>[^\]]+)\] (?P<text>.*)$")
_DONE = re.compile(r"^#(\d+) DONE (\d+(?:\.\d+)?)s$")
_CACHED = re.compile(r"^#(\d+) CACHED$")
_ERROR = re.compile(r"^#(\d+) ERROR:? ?(.*)$")
_OUTPUT = re.compile(r"^#(\d+) (?:\d+\.\d+ )?(.*)$")
_WROTE = re.compile(r"writing image (sha256:[0-9a-f]{64})")
_STEP_LABEL = re.compile(r"^(?:[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)? )?(?:(?P<stage>\S+) )?(?P<n>\d+)/(?P<of>\d+)$")


class Vertices:
    """BuildKit's plain progress, vertex by vertex: steps with stage, seconds and cache hits."""

    def __init__(self):
        self.order: list[str] = []
        self.v: dict[str, dict] = {}
        self.image_id = None

    def line(self, text: str) -> None:
        m = _VERTEX.match(text)
        if m and m.group(1) not in self.v:
            step = _STEP_LABEL.match(m.group("label"))
            self.v[m.group(1)] = {"step": bool(step), "stage": (step.group("stage") or "") if step else "",
                                  "instruction": m.group("text").strip(), "seconds": 0.0, "cached": False,
                                  "error": None, "lines": []}
            self.order.append(m.group(1))
            return
        wrote = _WROTE.search(text)
        if wrote:
            self.image_id = wrote.group(1)
        for pattern, apply in ((_DONE, lambda v, g: v.update(seconds=float(g))),
                               (_CACHED, lambda v, g: v.update(cached=True)),
                               (_ERROR, lambda v, g: v.update(error=g or "failed"))):
            m = pattern.match(text)
            if m and m.group(1) in self.v:
                apply(self.v[m.group(1)], m.group(2) if m.lastindex and m.lastindex > 1 else None)
                return
        m = _OUTPUT.match(text)
        if m and m.group(1) in self.v and not text.split(" ", 2)[1].startswith("sha256:"):
            self.v[m.group(1)]["lines"].append(m.group(2))

    def steps(self) -> list[dict]:
        out: list[dict] = []
        for key in self.order:
            v = self.v[key]
            if v["step"]:
                out.append({"number": len(out) + 1, "instruction": v["instruction"], "seconds": v["seconds"],
                            "cached": v["cached"], "lines": v["lines"], "stage": v["stage"]})
        return out

    def failing(self) -> dict | None:
        return next((self.v[k] for k in self.order if self.v[k]["error"]), None)


def buildkit_steps(lines) -> tuple[list[dict], dict | None]:
    """The steps of a BuildKit log and the failing vertex (None when the build worked)."""
    v = Vertices()
    for text in lines:
        v.line(text)
    return v.steps(), v.failing()
