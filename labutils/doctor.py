"""``doctor()``: can the lab run here, and with which images?"""
from __future__ import annotations

import subprocess

import pandas as pd

from . import bases, engine
from .errors import LabError


def doctor() -> pd.DataFrame:
    """A checklist: one row per check, ``ok`` and what was found or what to do."""
    rows = []

    def check(name, ok, found):
        rows.append({"check": name, "ok": bool(ok), "found": found})

    check("mode", True, engine.mode())
    if engine.mode() == "recorded":
        from . import recording
        try:
            label = recording.replay().label
        except LabError as exc:
            check("recording", False, exc.message + " " + (exc.hint or ""))
            return pd.DataFrame(rows)
        check("recording", True, f"{recording.directory()}: {label}")
        check("engine", True, "not used: every answer comes from the recording, and says so")
        return pd.DataFrame(rows)
    try:
        v = engine.version()
        check("engine", True, f"Docker Engine {v.get('Version')} (API {v.get('ApiVersion')}) at {engine.engine_url()}")
    except LabError as exc:
        check("engine", False, exc.message + " " + (exc.hint or ""))
        return pd.DataFrame(rows)
    for row in bases.status():
        if row["present"]:
            check(f"base {row['image']}", True, "present")
        elif row["stand_in_present"]:
            check(f"base {row['image']}", True, f"stand-in {row['stand_in']}")
        else:
            check(f"base {row['image']}", False,
                  f"missing: pull it, or run `python -m labutils bases --offline` to build {row['stand_in']}")
    cli = engine.docker_cli()
    if cli:
        proc = subprocess.run([cli, "--version"], capture_output=True, text=True)
        check("docker CLI (optional)", proc.returncode == 0, (proc.stdout or proc.stderr).strip())
    else:
        check("docker CLI (optional)", True, "not installed: the lab's build.sh is replayed through labutils")
    return pd.DataFrame(rows)


def ready(report: pd.DataFrame) -> bool:
    """True when every required check passed (the CLI is optional)."""
    required = report[~report["check"].str.contains("optional")]
    return bool(required["ok"].all())
