"""The instructor's view of a class on a hub, and its grades as CSV.

``python -m labutils class --hub URL [--csv FILE]``. For every learner (not the instructors): their lab images
as their own engine holds them, and their ``work/progress.json``, read through their lab with a token of
theirs that opens only their server and expires in minutes (``Hub.lab``): the instructor's token goes to the
hub alone. What a lab answers comes from code the learner controls, so every row says it is self-reported,
and every answer is time-boxed, size-capped and checked against the view's schema: a broken, huge, slow or
lying lab costs only its own rows, which say why.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from labutils.classroom.hub import Hub
from labutils.classroom.shared_engine import COLUMNS
from labutils.errors import LabError
from labutils.grading.checks import TASKS

SOURCE = "self-reported (the learner's lab)"
GRADES = ("passed", "failed", "not attempted")
MOST_ROWS = 2 * len(TASKS)
_OWN_VIEW = "import json\nfrom labutils.classroom import shared_engine\nprint(shared_engine.class_view(check={check}).to_json(orient='records'))"
_KINDS: dict[str, type | tuple[type, ...]] = {"exercise": str, "whose": str, "image": str, "exists": bool, "size": str, "size_bytes": (int, float, type(None)),
          "built": str, "works": (bool, type(None)), "said": str}


class Unfit(ValueError):
    """A lab's answer that does not fit the view's schema."""


def checked_rows(stdout: str) -> list[dict]:
    """The rows a lab printed, as the view's schema has them, or ``Unfit`` saying what did not fit.

    Each row: an exercise of the lab's, whose ``reference`` or ``yours``, the fields of ``_KINDS`` with their
    types, strings of at most 300 characters; at most one row per exercise and image.
    """
    lines = stdout.strip().splitlines()
    try:
        rows = json.loads(lines[-1]) if lines else None
    except ValueError:
        raise Unfit("its last line is not JSON") from None
    if not isinstance(rows, list) or len(rows) > MOST_ROWS:
        raise Unfit(f"not a list of at most {MOST_ROWS} rows")
    out, seen = [], set()
    for row in rows:
        if not isinstance(row, dict) or set(row) - set(COLUMNS) or not set(_KINDS) <= set(row):
            raise Unfit("a row with other fields than the view's")
        for key, kind in _KINDS.items():
            value = row[key]
            kinds = kind if isinstance(kind, tuple) else (kind,)
            if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:   # True is an int
                raise Unfit(f"{key} of the wrong type")
            if isinstance(value, str) and len(value) > 300:
                raise Unfit(f"{key} over 300 characters")
        if row["exercise"] not in TASKS or row["whose"] not in ("reference", "yours"):
            raise Unfit(f"an exercise or image the lab does not have: {row['exercise'][:40]!r}")
        size = row["size_bytes"]
        if isinstance(size, float):        # pandas writes a column with a missing size as floats
            if not size.is_integer() or size < 0:
                raise Unfit("size_bytes is no whole number of bytes")
            row = {**row, "size_bytes": int(size)}
        image = (row["exercise"], row["whose"])
        if image in seen:
            raise Unfit("two rows for one image")
        seen.add(image)
        out.append({k: row[k] for k in _KINDS})
    return out


def checked_progress(text: str) -> str:
    """``passed/total`` (and how many not attempted) from a progress.json's text, or ``Unfit``: notebook ->
    checkpoint -> {passed: bool, state: passed | failed | not attempted}."""
    try:
        data = json.loads(text)
    except ValueError:
        raise Unfit("progress.json is not JSON") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise Unfit("progress.json is not notebook -> checkpoint -> outcome")
    marks = [m for nb in data.values() for m in nb.values()]
    if not all(isinstance(m, dict) and isinstance(m.get("passed"), bool) for m in marks) or len(marks) > 10_000:
        raise Unfit("progress.json has outcomes without passed: true or false")
    skipped = sum(m.get("state") == "not attempted" for m in marks)
    return f"{sum(m['passed'] for m in marks)}/{len(marks)}" + (f" ({skipped} not attempted)" if skipped else "")


def _blank(said: str) -> list[dict]:
    return [{"exercise": t.exercise, "whose": whose, "image": tag, "exists": None, "size": "", "size_bytes": None,
             "built": "", "works": None, "said": said}
            for t in TASKS.values() for whose, tag in (("reference", t.reference), ("yours", t.tag))]


def _learner(hub: Hub, name: str, server: dict | None, check: bool, timeout: float) -> tuple[list[dict], str]:
    """One learner's rows (which say what went wrong) and progress; never raises for what their lab does."""
    if not (server and server.get("ready")):
        return _blank("stopped"), ""
    try:
        lab = hub.lab(name)
        ran = lab.run(_OWN_VIEW.format(check=check), timeout=timeout)
        if not ran.ok:
            return _blank(f"the lab's kernel failed: {ran.error[:80]}"), ""
        rows = checked_rows(ran.stdout)
        found = lab.read("work/progress.json", most=1 << 20)
        progress = checked_progress(found.get("content") or "") if found is not None else ""
        return rows or _blank("no lab images"), progress
    except Unfit as exc:
        return _blank(f"the lab's answer was not used: {exc}"), ""
    except LabError as exc:
        return _blank(f"the lab did not answer: {exc.message[:80]}"), ""
    except Exception as exc:             # a lab that breaks the client in any other way: its own row says so
        return _blank(f"the lab's answer broke the view: {type(exc).__name__}"), ""


def hub_view(url: str, token: str, check: bool = True, timeout: float = 300) -> pd.DataFrame:
    """The class on a hub: every learner's rows from their **own** engine, read through their lab.

    Args:
        url: the hub.
        token: the instructor's service token (``instructor-token`` in the class's state folder); sent to the
            hub only.
        check: run each image to see that it does what the lab says; False only lists.
        timeout: seconds each lab has to answer.

    Returns:
        DataFrame: the columns of ``shared_engine.COLUMNS``, ``progress`` (passed/total checkpoints) and ``source``.

    Raises:
        HttpFailed: the hub did not answer, or the token may not list users.

    Example:
        >>> view = hub_view("http://127.0.0.1:8000", open("/var/tmp/labutils-class/instructor-token").read().strip())
    """
    hub, frames = Hub(url, token), []
    for user in sorted(hub.users(), key=lambda u: u["name"]):
        if user.get("admin"):
            continue
        name = user["name"]
        rows, progress = _learner(hub, name, user.get("servers", {}).get(""), check, timeout)
        frame = pd.DataFrame(rows).assign(learner=name, progress=progress, source=SOURCE)
        frames.append(frame.reindex(columns=[*COLUMNS, "progress", "source"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*COLUMNS, "progress", "source"])


def grades(view: pd.DataFrame) -> pd.DataFrame:
    """Learners x exercises: ``passed`` (their own image does what the lab asks), ``failed`` (it does not) or
    ``not attempted`` (no image of theirs, or their lab was stopped), from the learner's own image only;
    ``not checked`` where the view ran with ``check=False``."""
    out = {}
    for learner, rows in view.groupby("learner", sort=True):
        mine = rows[rows["whose"] == "yours"].set_index("exercise")
        line = {}
        for exercise in TASKS:
            row = mine.loc[exercise] if exercise in mine.index else None
            exists = row is not None and pd.notna(row["exists"]) and bool(row["exists"])
            works = None if row is None or pd.isna(row["works"]) else bool(row["works"])
            line[exercise] = ("not attempted" if not exists else "passed" if works
                              else "failed" if works is False else "not checked")
        out[learner] = line
    return pd.DataFrame.from_dict(out, orient="index", columns=list(TASKS)).rename_axis("learner")


def write_grades(view: pd.DataFrame, path) -> Path:
    """The grades as a CSV an LMS gradebook imports: a header ``learner,<exercise>...``, a row per learner."""
    path = Path(path)
    table = grades(view)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["learner", *table.columns])
        for learner, row in table.iterrows():
            writer.writerow([learner, *row.tolist()])
    return path
