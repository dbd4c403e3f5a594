"""Which checkpoints this learner has passed, kept in ``work/progress.json``.

Every ``checkpoint()`` (and every graded "your turn") writes its latest
outcome here, per notebook; ``lu.progress()`` reads it back. Nothing here talks
to an engine: progress is the learner's own, kept beside their files.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd

from .settings import settings

COLUMNS = ["notebook", "checkpoint", "passed", "when"]


def _path():
    return settings().work / "progress.json"


def _load() -> dict:
    try:
        return json.loads(_path().read_text())
    except (OSError, ValueError):
        return {}


def mark(checkpoint: str, passed: bool) -> None:
    """Keep the latest outcome of ``checkpoint`` for the notebook this kernel runs (never raises for a bad file)."""
    data = _load()
    notebook = settings().notebook or "(no notebook)"
    name = checkpoint.split(":", 1)[0] if not checkpoint.startswith("your turn") else checkpoint
    data.setdefault(notebook, {})[name] = {"passed": bool(passed),
                                           "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    try:
        _path().parent.mkdir(parents=True, exist_ok=True)
        _path().write_text(json.dumps(data, indent=1, sort_keys=True))
    except OSError:
        pass


def progress() -> pd.DataFrame:
    """One row per checkpoint this learner has run: notebook, checkpoint, passed (latest outcome), when (UTC).

    Empty until a checkpoint has run. Sorted by notebook; ``reset`` clears it with the rest of ``work/``.
    """
    rows = [{"notebook": nb, "checkpoint": name, "passed": v["passed"], "when": v["when"]}
            for nb, found in sorted(_load().items()) for name, v in found.items()]
    df = pd.DataFrame(rows, columns=COLUMNS)
    if not df.empty:
        done = df.groupby("notebook", sort=True)["passed"].agg(["sum", "count"])
        df.attrs["per_notebook"] = {nb: f"{int(r['sum'])}/{int(r['count'])}" for nb, r in done.iterrows()}
    return df
