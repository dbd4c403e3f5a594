"""The one seam between labutils and an engine.

``backend()`` answers with the live backend (the engine), the recorder that
wraps it (``LABUTILS_RECORD``), or the recorded backend (no engine at all).
All three keep one contract, ``seam.Backend``. Public functions ask
``backend()`` and never which mode they are in.

This module is the only door into ``backends``: the rest of labutils imports from
here, never from ``backends.live`` or ``backends.replay`` (an import-linter contract
in pyproject.toml holds it). What it may know of the engine and the recording
beyond ``backend()`` is named below.
"""
from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path

from labutils.backends.live import engine
from labutils.backends.live.backend import Live
from labutils.backends.live.engine import answers, docker_cli, engine_url, on_reset, reset_caches
from labutils.backends.replay.recorder import Recorder
from labutils.backends.replay.recording import notebook_files
from labutils.backends.replay.replayer import Replayer
from labutils.errors import EngineUnavailable
from labutils.seam import Backend, Description
from labutils.settings import overridden, settings

__all__ = ["backend", "live_engine", "from_recording", "tag_recorded", "describe", "answers", "docker_cli", "engine_url",
           "on_reset", "reset_caches", "notebook_files"]


@cache
def _recorded(path: str) -> Replayer:
    return Replayer(Path(path))


engine.on_reset(_recorded.cache_clear)


def backend() -> Backend:
    """The backend for this call: recorded, recording, or live (settings read now).

    Raises:
        SettingsError: LABUTILS_MODE or LABUTILS_NAMESPACE has a value labutils cannot use.
        RecordingMissing: recorded mode, and there is no recording.
    """
    s = settings()
    if engine.mode() == "recorded":
        return _recorded(str(s.recording))
    if s.record_to is not None:
        return Recorder(Live(), s.record_to)
    return Live()


def live_engine(what: str) -> Backend:
    """The live backend, after the engine answered: for what only an engine can do (``what``).

    Raises:
        EngineUnavailable: recorded mode, or no engine answers; says what to do.
    """
    b = backend()
    if b.mode != "live":
        raise EngineUnavailable(f"{what} needs a Docker Engine, and labutils is in recorded mode.",
                                hint="start an engine (or set DOCKER_HOST) and unset LABUTILS_MODE, then try again.")
    b.describe()
    return b


def tag_recorded(df):
    """``df`` with ``attrs["recorded"]`` set to the recording's label where the answers were replayed."""
    label = backend().describe()["label"]
    if label:
        df.attrs["recorded"] = label
    return df


def describe() -> Description:
    """Mode, engine version and (recorded) the recording's label, for the results log and the doctor."""
    return backend().describe()


@contextlib.contextmanager
def from_recording():
    """Answer from the recording inside the block, even where an engine runs.

    For what this machine cannot do live (say, BuildKit without a CLI for it):
    the notebook shows the recorded answer, labelled as recorded. Yields the
    recorded backend.
    """
    with overridden(LABUTILS_MODE="recorded"):
        yield backend()
