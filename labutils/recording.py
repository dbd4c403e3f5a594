"""Recorded mode: the lab's answers from a real live run, for hosts with no engine.

``python -m labutils record`` runs every notebook on a live engine with
``LABUTILS_RECORD`` set; each call that talks to the engine (build, run, serve,
copy_out, images, ...) stores what it answered and what it printed, under a key
made of its arguments and of the content of the files it reads. In recorded
mode the same call finds its answer under the same key and prints it again,
with a line on stderr saying it is recorded, when, and on which Docker. A call
the recording does not hold (a learner's changed Dockerfile, a new tag) raises
``RecordingMissing`` naming what differs; nothing is made up.

The recording is plain files: ``meta.json``, ``calls.jsonl`` (one call per line,
in the order they ran) and ``files/`` (gzip copies of what ``copy_out`` wrote).
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import inspect
import io
import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Callable

from . import bases
from .errors import LabError

RECORDED = bases.DATA / "recorded"


class RecordingMissing(LabError):
    """Recorded mode was asked something the recording does not hold."""


def directory() -> Path:
    """Where the recording is read from (LABUTILS_RECORDING moves it)."""
    return Path(os.environ.get("LABUTILS_RECORDING", RECORDED))


def replaying() -> bool:
    """True in recorded mode: answers come from the recording, not an engine."""
    from . import engine
    return engine.mode() == "recorded"


@contextlib.contextmanager
def from_recording():
    """Answer from the recording inside the block, even where an engine runs.

    For what this machine cannot do live (say, BuildKit without a CLI for it):
    the notebook shows the recorded answer, labelled as recorded.
    """
    before = os.environ.get("LABUTILS_MODE")
    os.environ["LABUTILS_MODE"] = "recorded"
    try:
        yield replay()
    finally:
        if before is None:
            os.environ.pop("LABUTILS_MODE", None)
        else:
            os.environ["LABUTILS_MODE"] = before


def recording_to() -> Path | None:
    """Where live calls are being recorded to, if they are (LABUTILS_RECORD)."""
    target = os.environ.get("LABUTILS_RECORD")
    return Path(target) if target else None


def available(path: Path | None = None) -> bool:
    path = path or directory()
    return (path / "meta.json").is_file() and (path / "calls.jsonl").is_file()


# --- digests of what a call reads ------------------------------------------

def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_digest(folder: Path, names) -> dict[str, str]:
    """``{relative path: sha256}`` of the named files (folders: every file under them)."""
    folder = Path(folder)
    out = {}
    for name in names:
        path = (folder / name).resolve()
        found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
            [path] if path.is_file() else sorted(folder.glob(name)))
        if not found:
            out[str(name)] = "missing"
        for p in found:
            out[str(p.relative_to(folder.resolve()))] = digest(p.read_bytes())
    return out


# --- writing ---------------------------------------------------------------

def _meta_now() -> dict:
    from datetime import datetime, timezone
    from . import engine
    v = engine.version()
    return {"recorded": datetime.now(timezone.utc).date().isoformat(),
            "docker_version": v.get("Version", ""), "api_version": v.get("ApiVersion", ""),
            "os_arch": f"{v.get('Os', '')}/{v.get('Arch', '')}", "builder": "classic"}


def store(call: str, key: dict, answer, printed: str = "", files: dict[str, bytes] | None = None) -> None:
    """Append one live call to the recording being made (a no-op when not recording)."""
    target = recording_to()
    if target is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    if not (target / "meta.json").exists():
        (target / "meta.json").write_text(json.dumps(_meta_now(), indent=1) + "\n")
    for sha, data in (files or {}).items():
        path = target / "files" / f"{sha}.gz"
        path.parent.mkdir(exist_ok=True)
        if not path.exists():
            path.write_bytes(gzip.compress(data, mtime=0))
    line = json.dumps({"call": call, "key": key, "answer": answer, "printed": printed},
                      sort_keys=True, default=str)
    with open(target / "calls.jsonl", "a") as fh:
        fh.write(line + "\n")


class _Tee(io.TextIOBase):
    """Writes to the real stdout and keeps a copy, so a live call's output can be replayed."""

    def __init__(self, real):
        self.real, self.copy = real, io.StringIO()

    def write(self, text):
        self.copy.write(text)
        return self.real.write(text)

    def flush(self):
        self.real.flush()


@contextlib.contextmanager
def capture():
    """Yield a buffer holding what the block prints (only while recording)."""
    if recording_to() is None:
        yield io.StringIO()
        return
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        yield tee.copy


# --- reading ---------------------------------------------------------------

class Replay:
    """The loaded recording and the state of this process's replay."""

    def __init__(self, path: Path):
        if not available(path):
            raise RecordingMissing(
                f"Recorded mode is on, but there is no recording at {path}.",
                hint="run `python -m labutils record` on a machine with a Docker Engine, or unset "
                     "LABUTILS_MODE and start an engine.")
        self.path = path
        self.meta = json.loads((path / "meta.json").read_text())
        self.calls: dict[tuple, list[dict]] = defaultdict(list)
        self.by_call: dict[str, list[dict]] = defaultdict(list)
        for line in (path / "calls.jsonl").read_text().splitlines():
            entry = json.loads(line)
            self.calls[(entry["call"], _canon(entry["key"]))].append(entry)
            self.by_call[entry["call"]].append(entry)
        self.served: dict[tuple, int] = defaultdict(int)
        self.tags: dict[str, str | None] = {}     # tag -> image id built in this replay (None: unknown)

    @property
    def label(self) -> str:
        return (f"recorded {self.meta['recorded']} on Docker Engine {self.meta['docker_version']} "
                f"(API {self.meta['api_version']}, {self.meta.get('builder', 'classic')} builder)")

    def answer(self, call: str, key: dict, what: str, prefer: Callable[[dict], bool] | None = None) -> dict:
        """The recorded answer to ``call(key)``; repeated calls take the recorded repeats in turn."""
        entries = self.calls.get((call, _canon(key)))
        if not entries:
            raise self.missing(call, key, what)
        if prefer is not None:
            entries = [e for e in entries if prefer(e)] or entries
        n = self.served[(call, _canon(key))]
        self.served[(call, _canon(key))] += 1
        entry = entries[n % len(entries)]
        print(f"[labutils] {what}: {self.label}; no engine was used.", file=sys.stderr, flush=True)
        if entry["printed"]:
            print(entry["printed"], end="", flush=True)
        return entry

    def file(self, sha: str) -> bytes:
        """A file a recorded ``copy_out`` wrote, checked against its digest."""
        path = self.path / "files" / f"{sha}.gz"
        if not path.is_file():
            raise RecordingMissing(f"The recording at {self.path} lacks the file {path.name}.",
                                   hint="record again with `python -m labutils record`.")
        data = gzip.decompress(path.read_bytes())
        if digest(data) != sha:
            raise RecordingMissing(f"The recorded file {path.name} is damaged (its digest differs).",
                                   hint="restore data/recorded from the repository, or record again.")
        return data

    def image_check(self, tag: str, what: str) -> Callable[[dict], bool]:
        """Prefer answers about the image this replay built as ``tag``; refuse an unknown build."""
        built = self.tags.get(tag, "")
        if built is None:
            raise RecordingMissing(
                f"Recorded mode cannot answer {what}: {tag} was last built in this session from files "
                "the recording does not hold (see that build's error), so what it would do is unknown.",
                hint=_MISSING_HINT)
        return lambda entry: (not built or not isinstance(entry["answer"], dict)
                              or entry["answer"].get("image_id", built) == built)

    def missing(self, call: str, key: dict, what: str) -> RecordingMissing:
        """Say which argument or file differs from the nearest recorded call."""
        near = self.by_call.get(call, [])
        if not near:
            return RecordingMissing(f"Recorded mode cannot answer {what}: the recording holds no {call}() call.",
                                    hint=_MISSING_HINT)
        best = min(near, key=lambda e: _distance(e["key"], key))
        diffs = _differences(best["key"], key)
        return RecordingMissing(
            f"Recorded mode cannot answer {what}: the recording ({self.label}) holds no such call. "
            f"Nearest recorded {call}(): {'; '.join(diffs)}.", hint=_MISSING_HINT)


_MISSING_HINT = ("recorded mode replays only what the lab's own files gave on a real engine. Restore "
                 "the lab's file with lu.write_exercise(name, overwrite=True) to see the recorded answer, "
                 "or run the lab where a Docker Engine runs (unset LABUTILS_MODE) to try your change.")


def _canon(key: dict) -> str:
    return json.dumps(key, sort_keys=True, default=str)


def _distance(a: dict, b: dict) -> int:
    return len(_differences(a, b))


def _differences(recorded: dict, asked: dict) -> list[str]:
    out = []
    for name in sorted(set(recorded) | set(asked)):
        r, a = recorded.get(name), asked.get(name)
        if r == a:
            continue
        if isinstance(r, dict) and isinstance(a, dict):
            for f in sorted(set(r) | set(a)):
                if f not in a:
                    out.append(f"{f} was there when recorded, and is not now")
                elif f not in r:
                    out.append(f"{f} was not there when recorded")
                elif r[f] != a[f]:
                    out.append(f"{f} differs from the recorded one")
        else:
            out.append(f"{name} was {r!r}, now {a!r}")
    return out


@functools.lru_cache(maxsize=None)
def _replay_for(path: str) -> Replay:
    return Replay(Path(path))


def replay() -> Replay:
    return _replay_for(str(directory()))


def replayable(call: str, key: Callable[..., dict], encode: Callable, decode: Callable,
               what: Callable[..., str], image_arg: str | None = None):
    """Make an engine call recordable (live, while recording) and replayable (recorded mode).

    ``key(**args)`` names the call; ``encode(result)`` turns the live answer into
    JSON; ``decode(answer, entry, **args)`` turns it back into the same type.
    With ``image_arg``, the answer recorded for the image this replay built is
    preferred, and an image last built from files the recording lacks is refused.
    """
    def wrap(fn):
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            from . import engine
            bound = sig.bind(*a, **kw)
            bound.apply_defaults()
            args = bound.arguments
            if engine.mode() == "recorded":
                r = replay()
                prefer = r.image_check(args[image_arg], what(**args)) if image_arg else None
                entry = r.answer(call, key(**args), what(**args), prefer)
                return decode(entry["answer"], entry, **args)
            if recording_to() is None:
                return fn(*a, **kw)
            k = key(**args)
            with capture() as printed:
                result = fn(*a, **kw)
            store(call, k, encode(result), printed.getvalue())
            return result
        return wrapper
    return wrap


def frame_answer(df) -> dict:
    return {"columns": list(df.columns), "rows": json.loads(df.to_json(orient="records", date_format="iso"))}


def frame_from(answer: dict):
    import pandas as pd
    df = pd.DataFrame(answer["rows"], columns=answer["columns"])
    df.attrs["recorded"] = replay().label
    return df


# --- making a recording ----------------------------------------------------

def record_notebooks(notebooks, out=None, timeout: int = 900) -> int:
    """Run every notebook live, in order, in a scratch work folder, recording each call.

    The new recording replaces the old one only when every notebook ran through.
    """
    import shutil
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    from . import engine
    engine.client()                                   # fail now, clearly, without an engine
    out = Path(out) if out else RECORDED
    paths = sorted(Path(notebooks).glob("[0-9]*.ipynb"))
    if not paths:
        raise LabError(f"There are no numbered notebooks in {notebooks}.", hint="pass --notebooks <folder>.")
    with tempfile.TemporaryDirectory(prefix="labutils-record-") as tmp:
        new, work = Path(tmp) / "recorded", Path(tmp) / "work"
        env = {"LABUTILS_RECORD": str(new), "LABUTILS_WORK": str(work), "LABUTILS_MODE": "live"}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            for path in paths:
                print(f"recording {path.name} ...", flush=True)
                nb = nbformat.read(path, as_version=4)
                NotebookClient(nb, timeout=timeout, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        meta = json.loads((new / "meta.json").read_text())
        meta["notebooks"] = [p.name for p in paths]
        meta["made_by"] = "python -m labutils record"
        (new / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(new, out)
    calls = len((out / "calls.jsonl").read_text().splitlines())
    print(f"Recorded {calls} calls from {len(paths)} notebooks into {out} ({meta['recorded']}, "
          f"Docker Engine {meta['docker_version']}).")
    _replay_for.cache_clear()
    return 0
