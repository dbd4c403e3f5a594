"""The runs log, ``work/results.csv``: one row per build, run or serve, written by ``labutils.ops`` as it
goes, read around damage. ``labutils.course.book.compare`` puts the book's figures beside it."""
from __future__ import annotations

import csv
import io
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from labutils.backends import describe
from labutils.settings import settings, work_dir
from labutils.util import locked, write_atomic

COLUMNS = ["kind", "exercise", "approach", "tag", "size_bytes", "seconds", "cache",
           "steps_run", "steps_cached", "exit_code", "engine_version", "builder", "mode", "date",
           "content_bytes", "store"]


def path() -> Path:
    """``work/results.csv``; LABUTILS_WORK moves the whole work folder."""
    return settings().results_log


def log_row(kind: str, tag: str, *, exercise: str = "", seconds: float, size_bytes: int | None = None,
           steps_run: int | None = None, steps_cached: int | None = None, exit_code: int | None = None,
           builder: str = "", content_bytes: int | None = None, store: str = "") -> None:
    """Append one row to the results log (best effort: a read-only work/ loses the row, not the build)."""
    about = describe()
    mode, version = about["mode"], about["engine_version"]
    cache = "" if steps_cached is None else ("warm" if steps_cached else "cold")
    row = {"kind": kind, "exercise": exercise, "approach": "", "tag": tag,
           "size_bytes": size_bytes, "seconds": round(seconds, 3), "cache": cache,
           "steps_run": steps_run, "steps_cached": steps_cached, "exit_code": exit_code,
           "engine_version": version, "builder": builder, "mode": mode,
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "content_bytes": content_bytes, "store": store}
    path_ = path()
    try:
        work_dir()
        with locked(path_):
            kept = read_rows(path_).to_csv(index=False)
            write_atomic(path_, kept + pd.DataFrame([row], columns=COLUMNS).to_csv(index=False, header=False))
    except OSError:
        pass


_said: set = set()


def read_rows(path: Path) -> pd.DataFrame:
    """The results log in ``COLUMNS`` order, read around damage: an empty file is no rows, and a row that
    does not fit the header (a kill mid-write, a full disk) is skipped and said once."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        text = ""
    rows = list(csv.reader(io.StringIO(text)))
    header, body = (rows[0], rows[1:]) if rows else (COLUMNS, [])
    good = [r for r in body if len(r) == len(header)]
    bad = len(body) - len(good)
    if (bad or not set(header) <= set(COLUMNS)) and str(path) not in _said:
        _said.add(str(path))
        print(f"[labutils] {path}: {bad} damaged row(s) skipped" + ("" if set(header) <= set(COLUMNS) else
              " (its header is not the results log's: read as empty)") + "; the next row rewrites it whole.",
              file=sys.stderr, flush=True)
    if not set(header) <= set(COLUMNS):
        good, header = [], COLUMNS
    buf = io.StringIO()
    csv.writer(buf).writerows([header] + good)
    buf.seek(0)
    return pd.read_csv(buf).reindex(columns=COLUMNS)
