"""The book's published figures, and ours beside them (notebooks 01-06); the results log."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .backend import describe
from .settings import settings
from .util import human_size


def book_figures() -> pd.DataFrame:
    """The sizes the book prints (text and screenshots), in MB."""
    return pd.read_csv(settings().data / "book_figures.csv")


def versus_book(*results, names: dict | None = None) -> pd.DataFrame:
    """Our images beside the book's: size as Docker shows it, MB, the book's MB, ratio.

    ``names`` maps one of our tags to the book's image name when they differ.
    """
    book = book_figures().set_index("image")
    rows = []
    for r in results:
        key = (names or {}).get(r.tag, r.tag)
        book_mb = book["book_text_mb"].get(key)
        rows.append({"image": r.tag, "size": human_size(r.size), "ours_mb": round(r.size / 1e6, 2),
                     "book_mb": book_mb,
                     "ours / book": round(r.size / 1e6 / book_mb, 2) if pd.notna(book_mb) else None})
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


def record(kind: str, tag: str, *, exercise: str = "", seconds: float, size_bytes: int | None = None,
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
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and _header(path) != ",".join(COLUMNS):
            pd.read_csv(path).reindex(columns=COLUMNS).to_csv(path, index=False)   # an older log's columns
        pd.DataFrame([row], columns=COLUMNS).to_csv(path, mode="a", header=not path.exists(), index=False)
    except OSError:
        pass


def _header(path: Path) -> str:
    with open(path) as fh:
        return fh.readline().rstrip("\n")


def compare() -> pd.DataFrame:
    """The results log as a DataFrame, with the book's published size beside each image."""
    path = log_path()
    log = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=COLUMNS)
    log = log.reindex(columns=COLUMNS)     # a log written before a column was added
    book = book_figures()[["image", "book_text_mb"]].rename(columns={"image": "tag", "book_text_mb": "book_mb"})
    return log.merge(book, on="tag", how="left")
