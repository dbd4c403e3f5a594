"""Every setting labutils has, read from the environment when asked, never at import.

One place (after testcontainers' config object): paths, mode, namespace and
where recordings go. Changing ``LABUTILS_WORK`` after ``import labutils`` moves
everything that writes under ``work/`` at once.

``VARIABLES`` lists every one with its default and meaning; docs/reference.md is generated from it, and a
test fails when labutils reads a variable that is not there.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labutils.errors import SettingsError

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Variable:
    """One environment variable labutils reads: its name, its default as written in the docs, what it does."""
    name: str
    default: str
    meaning: str


VARIABLES = (
    Variable("LABUTILS_WORK", "<repo>/work", "the learner's files, results, figures and progress"),
    Variable("LABUTILS_MODE", "auto", "live, recorded, or auto (live when an engine answers, else the recording)"),
    Variable("LABUTILS_NAMESPACE", "unset", "a learner's own prefix on a shared engine (library, docker.io and "
             "registry hosts are refused)"),
    Variable("LABUTILS_DATA", "<repo>/data", "the lab's files, base recipes, the book's figures, the recording"),
    Variable("LABUTILS_RECORDING", "<data>/recorded", "the recording recorded mode replays"),
    Variable("LABUTILS_RECORD", "unset", "record every live engine call into this folder (make record sets it)"),
    Variable("LABUTILS_REPLAY_LOG", "unset", "append each replayed entry's notebook and number to this file"),
    Variable("LABUTILS_NOTEBOOK", "Jupyter's session name", "the notebook being run (recording and replay are per "
             "notebook)"),
    Variable("LABUTILS_DEBIAN_MIRROR", "http://deb.debian.org/debian", "where the stand-ins' packages come from"),
    Variable("LABUTILS_HOST_OVERRIDE", "unset", "where the engine's published ports are reached (an engine in "
             "another network namespace or VM); by default the host of a tcp:// or ssh:// DOCKER_HOST, else "
             "127.0.0.1"),
    Variable("LABUTILS_REQUIRE_ENGINE", "unset", "tests: a missing engine fails instead of skipping (CI sets it)"),
    Variable("LABUTILS_REQUIRE_EMULATION", "unset", "tests: missing QEMU fails instead of skipping (CI sets it)"),
    Variable("LABUTILS_RIG", "unset", "tests: the engine matrix's rig the tests run on (tools/engines.py sets it)"),
    Variable("LABUTILS_RIG_TCP", "unset", "tests: that rig's tcp:// address, for the remote-engine test"),
)
MODES = ("live", "recorded", "auto")
_NAMESPACE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
RESERVED_NAMESPACES = ("library", "docker.io", "index.docker.io", "registry-1.docker.io", "localhost")
"""Prefixes Docker reads as Docker Hub's own (``library/welcome`` *is* ``welcome``) or as a registry host."""


@dataclass(frozen=True)
class Settings:
    """A snapshot of labutils' settings; ``settings()`` makes a fresh one on every call."""
    data: Path
    work: Path
    mode: str
    recording: Path
    record_to: Path | None
    namespace: str
    notebook: str
    debian_mirror: str
    host_override: str
    replay_log: Path | None

    @property
    def exercises(self) -> Path:
        return self.data / "exercises"

    @property
    def results_log(self) -> Path:
        return self.work / "results.csv"

    @property
    def figures(self) -> Path:
        return self.work / "figures"


def _notebook() -> str:
    """The notebook this kernel runs: LABUTILS_NOTEBOOK, else the one Jupyter names (JPY_SESSION_NAME)."""
    name = os.environ.get("LABUTILS_NOTEBOOK") or os.environ.get("JPY_SESSION_NAME", "")
    name = Path(name).name
    return name[:-len(".ipynb")] if name.endswith(".ipynb") else name


def settings() -> Settings:
    """Read every setting now.

    Raises:
        SettingsError: LABUTILS_MODE or LABUTILS_NAMESPACE has a value labutils cannot use (says what can).
    """
    env = os.environ
    data = Path(env.get("LABUTILS_DATA") or ROOT / "data")
    mode = (env.get("LABUTILS_MODE", "auto").strip().lower() or "auto")
    if mode not in MODES:
        raise SettingsError(f"LABUTILS_MODE={mode!r} is not a mode labutils knows.",
                                hint="set LABUTILS_MODE to 'live', 'recorded' or 'auto', or unset it.")
    ns = env.get("LABUTILS_NAMESPACE", "").strip()
    if ns and not _NAMESPACE.match(ns):
        raise SettingsError(f"LABUTILS_NAMESPACE={ns!r} cannot prefix an image name.",
                            hint="use lowercase letters and digits, separated by single '.', '_' or '-' "
                                 "(e.g. 'alice').")
    if ns in RESERVED_NAMESPACES:
        raise SettingsError(f"LABUTILS_NAMESPACE={ns!r} is a name Docker reserves: {ns}/welcome:v1 would be "
                            f"{'the plain welcome:v1' if ns != 'localhost' else 'an image of a registry at localhost'}, "
                            "shared with everyone on this engine.",
                            hint="use the learner's own name (e.g. 'alice').")
    record = env.get("LABUTILS_RECORD")
    replay_log = env.get("LABUTILS_REPLAY_LOG")
    return Settings(
        data=data,
        work=Path(env.get("LABUTILS_WORK") or ROOT / "work"),
        mode=mode,
        recording=Path(env.get("LABUTILS_RECORDING") or data / "recorded"),
        record_to=Path(record) if record else None,
        namespace=ns,
        notebook=_notebook(),
        debian_mirror=env.get("LABUTILS_DEBIAN_MIRROR", "http://deb.debian.org/debian"),
        host_override=env.get("LABUTILS_HOST_OVERRIDE", "").strip(),
        replay_log=Path(replay_log) if replay_log else None,
    )


@contextmanager
def overridden(**values: str | None):
    """Set (or, with None, unset) LABUTILS_* and other variables for a block; restored on every exit path.

    Because settings are read at each call, everything inside the block sees the new values.
    """
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


WORK_MARKER = ".labutils-work"
"""Written into a work folder labutils made itself; ``reset`` removes files only from such a folder."""
WORK_NAMES = ("yours", "figures", "results.csv", "progress.json", "bases.log", "jupyterlab-workspaces",
              ".bases.lock", "results.csv.lock", "progress.json.lock")
"""What labutils writes at the top of work/, beside one folder per exercise."""


def work_dir() -> Path:
    """The work folder, made (and marked as labutils') when it does not exist yet; an existing one is not marked."""
    work = settings().work
    if not work.is_dir():
        work.mkdir(parents=True, exist_ok=True)
        (work / WORK_MARKER).write_text("Made by labutils: `python -m labutils reset` may clear what it wrote here.\n")
    return work


def made_by_labutils(work: Path) -> bool:
    """True for the course's own work folder (``<repo>/work``) or one labutils made (it holds the marker)."""
    return (work / WORK_MARKER).is_file() or work.resolve() == (ROOT / "work").resolve()
