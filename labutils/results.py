"""The book's published figures, and ours beside them."""
from __future__ import annotations

import pandas as pd

from . import bases
from .images import human_size


def book_figures() -> pd.DataFrame:
    """The sizes the book prints (text and screenshots), in MB."""
    return pd.read_csv(bases.DATA / "book_figures.csv")


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
