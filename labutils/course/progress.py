"""Which checkpoints this learner has passed, kept in ``work/progress.json``.

Every ``checkpoint()`` (and every graded "your turn") writes its latest
outcome here, per notebook; ``lu.progress()`` reads it back. Nothing here talks
to an engine: progress is the learner's own, kept beside their files.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import pandas as pd

from labutils.settings import settings, work_dir
from labutils.util import locked, write_atomic

COLUMNS = ["notebook", "checkpoint", "state", "passed", "when"]
STATES = ("passed", "failed", "not attempted")


def _path():
    return settings().work / "progress.json"


_said: set = set()


def _load() -> dict:
    """progress.json as written; an empty, torn or foreign file reads as no progress (said once)."""
    path = _path()
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ValueError("not a notebook -> checkpoint mapping")
        return data
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        if str(path) not in _said:
            _said.add(str(path))
            print(f"[labutils] {path} could not be read ({type(exc).__name__}); progress starts again from "
                  "here, the next checkpoint rewrites it whole.", file=sys.stderr, flush=True)
        return {}


def note(checkpoint: str, passed: bool, state: str | None = None) -> None:
    """Keep the latest outcome of ``checkpoint`` for the notebook this kernel runs (never raises for a bad file).

    ``state`` is ``passed``, ``failed`` or ``not attempted`` (a "your turn" with nothing of the learner's yet);
    by default it follows ``passed``.

    Read, change and write under one lock, written whole (temporary file, then rename): kernels that
    pass checkpoints at the same time each keep theirs.
    """
    notebook = settings().notebook or "(no notebook)"
    name = checkpoint.split(":", 1)[0] if not checkpoint.startswith("your turn") else checkpoint
    try:
        work_dir()
        with locked(_path()):
            data = _load()
            data.setdefault(notebook, {})[name] = {"passed": bool(passed),
                                                   "state": state or ("passed" if passed else "failed"),
                                                   "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            write_atomic(_path(), json.dumps(data, indent=1, sort_keys=True))
    except OSError:
        pass


def progress() -> pd.DataFrame:
    """One row per checkpoint this learner has run: notebook, checkpoint, state (``passed``, ``failed`` or ``not
    attempted``), passed, when (UTC).

    Empty until a checkpoint has run. Sorted by notebook; ``reset`` clears it with the rest of ``work/``.
    ``attrs["per_notebook"]`` is ``passed/total`` per notebook, with how many were not attempted.
    """
    rows = [{"notebook": nb, "checkpoint": name, "passed": v["passed"], "when": v["when"],
             "state": v.get("state") or ("passed" if v["passed"] else "failed")}
            for nb, found in sorted(_load().items()) for name, v in found.items()]
    df = pd.DataFrame(rows, columns=COLUMNS)
    if not df.empty:
        skipped = df["state"] == "not attempted"
        done = df.assign(skipped=skipped).groupby("notebook", sort=True).agg(
            sum=("passed", "sum"), count=("passed", "count"), skipped=("skipped", "sum"))
        df.attrs["per_notebook"] = {nb: f"{int(r['sum'])}/{int(r['count'])}"
                                    + (f" ({int(r['skipped'])} not attempted)" if r["skipped"] else "")
                                    for nb, r in done.iterrows()}
    return df
