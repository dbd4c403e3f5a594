"""The book's published figures, and ours beside them (notebooks 01-06); the results log."""
from __future__ import annotations

import csv
import io
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .backend import describe
from .settings import settings, work_dir
from .util import human_size, locked, write_atomic


def book_figures() -> pd.DataFrame:
    """The sizes the book prints (text and screenshots), in MB."""
    return pd.read_csv(settings().data / "book_figures.csv")


BLOCKS_WHY = ("the containerd store counts unpacked bytes in whole file-system blocks; the book's figure "
              "counts the files' bytes, as a graph driver does")


BOOK_PLATFORM = "linux/amd64"
"""The platform of every image the book measured (its figures are x86-64 images)."""


def beside_book(tag: str, size: int, store: str = "", platform: str = BOOK_PLATFORM) -> dict:
    """The book's MB for ``tag``, ours/book, and, where they differ by more than 10%, why (one line).

    Ours for another ``platform`` than the book's says so: the book's figures are amd64 images, so a lesson
    on arm64 is asserted by ratio, digest or exit status, not by the book's MB."""
    book = book_figures().set_index("image")
    book_mb = book["book_text_mb"].get(tag)
    if pd.isna(book_mb):
        return {"book_mb": None, "ours / book": None, "why": ""}
    ratio = round(size / 1e6 / book_mb, 2)
    why = book["why_off"].get(tag) if abs(ratio - 1) > 0.10 else ""
    why = why if isinstance(why, str) else ""
    if abs(ratio - 1) > 0.10 and store == "containerd":
        why = f"{why}; {BLOCKS_WHY}" if why else BLOCKS_WHY
    if platform != BOOK_PLATFORM:
        note = f"ours is a {platform} image; the book's figure is {BOOK_PLATFORM}"
        why = f"{why}; {note}" if why else note
    return {"book_mb": book_mb, "ours / book": ratio, "why": why}


def versus_book(*results, names: dict | None = None) -> pd.DataFrame:
    """Our images beside the book's: unpacked size, MB, the book's MB, ours/book, and why where off by >10%.

    The book's figures are graph-driver sizes (what ``docker images`` showed in
    2020: the files, unpacked), so ours are the unpacked sizes on every engine.
    ``names`` maps one of our tags to the book's image name when they differ.
    """
    rows = []
    for r in results:
        key = (names or {}).get(r.tag, r.tag)
        platform = r.platform or describe()["os_arch"] or BOOK_PLATFORM
        rows.append({"image": r.tag, "size": human_size(r.size), "ours_mb": round(r.size / 1e6, 2),
                     **beside_book(key, r.size, r.store, platform)})
    return pd.DataFrame(rows)


# --- the results log: one row per build, run or serve ------------------------

COLUMNS = ["kind", "exercise", "approach", "tag", "size_bytes", "seconds", "cache",
           "steps_run", "steps_cached", "exit_code", "engine_version", "builder", "mode", "date",
           "content_bytes", "store"]


def log_path() -> Path:
    """``work/results.csv``; LABUTILS_WORK moves the whole work folder."""
    return settings().results_log


def _approach(tag: str) -> str:
    book = book_figures().set_index("image")["approach"]
    return book.get(tag, "")


def log_row(kind: str, tag: str, *, exercise: str = "", seconds: float, size_bytes: int | None = None,
           steps_run: int | None = None, steps_cached: int | None = None, exit_code: int | None = None,
           builder: str = "", content_bytes: int | None = None, store: str = "") -> None:
    """Append one row to the results log (best effort: a read-only work/ loses the row, not the build)."""
    about = describe()
    mode, version = about["mode"], about["engine_version"]
    cache = "" if steps_cached is None else ("warm" if steps_cached else "cold")
    row = {"kind": kind, "exercise": exercise, "approach": _approach(tag), "tag": tag,
           "size_bytes": size_bytes, "seconds": round(seconds, 3), "cache": cache,
           "steps_run": steps_run, "steps_cached": steps_cached, "exit_code": exit_code,
           "engine_version": version, "builder": builder, "mode": mode,
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "content_bytes": content_bytes, "store": store}
    path = log_path()
    try:
        work_dir()
        with locked(path):
            kept = read_log(path).to_csv(index=False)
            write_atomic(path, kept + pd.DataFrame([row], columns=COLUMNS).to_csv(index=False, header=False))
    except OSError:
        pass


_said: set = set()


def read_log(path: Path) -> pd.DataFrame:
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


def compare() -> pd.DataFrame:
    """The results log as a DataFrame, with the book's published size beside each image."""
    log = read_log(log_path())             # a log written before a column was added reads with every column
    book = book_figures()[["image", "book_text_mb"]].rename(columns={"image": "tag", "book_text_mb": "book_mb"})
    return log.merge(book, on="tag", how="left")
