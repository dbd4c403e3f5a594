"""``doctor()``: can the lab run here, and with which images?"""
from __future__ import annotations

import subprocess

import pandas as pd

from labutils.backends import backend, docker_cli, engine_url
from labutils.docker import platforms
from labutils.errors import LabError
from labutils.ops import standins
from labutils.settings import settings


def doctor() -> pd.DataFrame:
    """A checklist: one row per check, ``ok`` and what was found or what to do (notebook 00).

    In recorded mode the base images are those of the recorded run.
    """
    rows = []

    def check(name, ok, found):
        rows.append({"check": name, "ok": bool(ok), "found": found})

    try:
        about = backend().describe()
    except LabError as exc:          # no engine, no recording, or a setting labutils cannot use
        check("engine", False, exc.message + " " + (exc.hint or ""))
        return pd.DataFrame(rows)
    check("mode", True, about["mode"])
    if about["label"]:
        check("recording", True, f"{settings().recording}: {about['label']}")
        check("engine", True, "not used: every answer comes from the recording, and says so")
    else:
        check("engine", True, f"Docker Engine {about['engine_version']} (API {about['api_version']}) at "
                              f"{engine_url()}")
    for row in standins.status():
        if row["present"]:
            check(f"base {row['image']}", True, "present")
        elif row["stand_in_present"]:
            check(f"base {row['image']}", True, f"stand-in {row['stand_in']}")
        else:
            check(f"base {row['image']}", False,
                  f"missing: pull it, or run `python -m labutils bases --offline` to build {row['stand_in']}")
    if not about["label"]:
        foreign = platforms.emulated()
        check("platforms (optional)", True,
              f"{platforms.native()} natively" + (f"; {', '.join(foreign)} through QEMU (binfmt_misc)" if foreign
                                                  else f"; no other platform: {platforms.how_to_emulate()}"))
    cli = None if about["label"] else docker_cli()
    if about["label"]:
        check("docker CLI (optional)", True, "not used: build.sh's run replays from the recording")
    elif cli:
        proc = subprocess.run([cli, "--version"], capture_output=True, text=True)
        check("docker CLI (optional)", proc.returncode == 0, (proc.stdout or proc.stderr).strip())
    else:
        check("docker CLI (optional)", True, "not installed: the lab's build.sh is replayed through labutils")
    return pd.DataFrame(rows)


def ready(report: pd.DataFrame) -> bool:
    """True when every required check passed (the CLI is optional)."""
    required = report[~report["check"].str.contains("optional")]
    return bool(required["ok"].all())
