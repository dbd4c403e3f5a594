"""The book's published figures, and ours beside them (notebooks 01-06), and the runs log beside the book."""
from __future__ import annotations

import pandas as pd

from labutils.backends import describe
from labutils.ops import runlog
from labutils.settings import settings
from labutils.util import human_size


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


def compare() -> pd.DataFrame:
    """The results log as a DataFrame, with the book's published size beside each image."""
    log = runlog.read_rows(runlog.path())        # a log written before a column was added reads with every column
    book = book_figures()[["image", "approach", "book_text_mb"]].rename(
        columns={"image": "tag", "approach": "book_approach", "book_text_mb": "book_mb"})
    log = log.merge(book, on="tag", how="left")
    log["approach"] = log["book_approach"].fillna("")           # the log leaves it to the book's table
    return log.drop(columns="book_approach")
