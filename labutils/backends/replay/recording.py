"""The recording's files: read, written, and with volatile values kept apart.

In ``data/recorded/`` (see ``recorded.py`` for what replays them):

- ``meta.json``: when, on which Docker, from which notebooks;
- ``<notebook>.json``: one entry per engine call, in the order the notebook made
  them, each naming its notebook cell, call, key (arguments and the digests of
  the files it read) and answer, pretty-printed with sorted keys;
- ``volatile/<notebook>.json``: what changes on every run (ids, timings, ports),
  kept apart so that re-recording unchanged files changes only these files;
- ``files/<sha256>.gz``: files a call returned (the binary ``copy_out`` wrote).
"""
from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from labutils import errors as _errors
from labutils.errors import LabError, RecordingMissing
from labutils.util import digest

VOLATILE_KEYS = {"seconds", "times", "image_id", "id", "created", "container_name", "host_port", "url",
                 "diff_ids", "content", "total"}
# content and total (containerd store): compressed layers, whose bytes change with the file timestamps inside
TEXT_KEYS = {"log", "printed", "logs", "stdout", "stderr"}
_VOLATILE_TEXT = re.compile(r"(?P<v>sha256:[0-9a-f]{64}|\b[0-9a-f]{12,64}\b|\b\d+(?:\.\d+)?s\b|0x[0-9a-f]{8,16}"
                            r"|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d|\b\d+(?:\.\d+)? [kMG]?B/s\b)"
                            r"|^#\d+ (?P<t>\d+\.\d+) ")
MARK = "\u27e8v\u27e9"     # ⟨v⟩, where a volatile value was taken out

def canon(key) -> str:
    return json.dumps(key, sort_keys=True, default=str)


# --- volatile values apart -----------------------------------------------------------

def split(value, out: list, key: str = ""):
    """``value`` with its volatile parts replaced by MARK; the parts appended to ``out`` in order."""
    if key in VOLATILE_KEYS:
        out.append(value)
        return MARK
    if isinstance(value, dict):
        return {k: split(value[k], out, k) for k in sorted(value)}
    if isinstance(value, list):
        return [split(v, out, key) for v in value]
    if isinstance(value, str) and key in TEXT_KEYS:
        return _split_text(value, out)
    return value


def _split_text(text: str, out: list) -> str:
    lines = []
    for line in text.split("\n"):
        pieces, last = [], 0
        for m in _VOLATILE_TEXT.finditer(line):
            group = "v" if m.group("v") is not None else "t"
            pieces += [line[last:m.start(group)], MARK]
            out.append(m.group(group))
            last = m.end(group)
        lines.append("".join(pieces) + line[last:])
    return "\n".join(lines)


def join(value, values: list, key: str = ""):
    """The inverse of ``split``: MARKs filled from ``values`` (consumed in order)."""
    if key in VOLATILE_KEYS and value == MARK:
        return values.pop(0)
    if isinstance(value, dict):
        return {k: join(value[k], values, k) for k in sorted(value)}
    if isinstance(value, list):
        return [join(v, values, key) for v in value]
    if isinstance(value, str) and key in TEXT_KEYS and MARK in value:
        parts = value.split(MARK)
        return "".join(p + (str(values.pop(0)) if i < len(parts) - 1 else "") for i, p in enumerate(parts))
    return value


# --- the files ------------------------------------------------------------------------------

def available(path: Path) -> bool:
    return (path / "meta.json").is_file() and any(path.glob("*.json"))


def notebook_files(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("*.json") if p.name != "meta.json")


def load(path: Path) -> tuple[dict, dict[str, list[dict]]]:
    """``(meta, {notebook: [entries with volatile values filled in]})``."""
    if not available(path):
        raise RecordingMissing(f"Recorded mode is on, but there is no recording at {path}.",
                               hint="run `python -m labutils record` on a machine with a Docker Engine, or unset "
                                    "LABUTILS_MODE and start an engine.")
    meta = json.loads((path / "meta.json").read_text())
    books = {}
    for f in notebook_files(path):
        stable = json.loads(f.read_text())
        vol_file = path / "volatile" / f.name
        vol = json.loads(vol_file.read_text())["values"] if vol_file.is_file() else {}
        entries = []
        for e in stable["entries"]:
            values = list(vol.get(str(e["n"]), []))
            entries.append({**e, "answer": join(e.get("answer"), values, ""),
                            "printed": join(e.get("printed", ""), values, "printed")})
        books[stable["notebook"]] = entries
    return meta, books


def label(meta: dict) -> str:
    return (f"recorded {meta['recorded']} on Docker Engine {meta['docker_version']} "
            f"(API {meta['api_version']}, {meta.get('builder', 'classic')} builder)")


def to_json(value, path: Path):
    """Bytes go to ``files/<sha256>.gz``, and the answer names them."""
    if isinstance(value, bytes):
        sha = digest(value)
        f = path / "files" / f"{sha}.gz"
        f.parent.mkdir(parents=True, exist_ok=True)
        if not f.exists():
            f.write_bytes(gzip.compress(value, mtime=0))
        return {"$file": sha, "size": len(value)}
    if isinstance(value, dict):
        return {k: to_json(v, path) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, path) for v in value]
    return value


def from_json(value, path: Path):
    if isinstance(value, dict) and "$file" in value:
        f = path / "files" / f"{value['$file']}.gz"
        if not f.is_file():
            raise RecordingMissing(f"The recording at {path} lacks the file {f.name}.",
                                   hint="record again with `python -m labutils record`.")
        data = gzip.decompress(f.read_bytes())
        if digest(data) != value["$file"]:
            raise RecordingMissing(f"The recorded file {f.name} is damaged (its digest differs).",
                                   hint="restore data/recorded from the repository, or record again.")
        return data
    if isinstance(value, dict):
        return {k: from_json(v, path) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v, path) for v in value]
    return value


def rebuild_error(state: dict) -> LabError:
    cls = getattr(_errors, state.get("type", "LabError"), LabError)
    fields = {k: v for k, v in state.items() if k != "type"}
    return _errors._rebuild(cls if isinstance(cls, type) and issubclass(cls, LabError) else LabError, fields)


def differences(recorded: dict, asked: dict) -> list[str]:
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
