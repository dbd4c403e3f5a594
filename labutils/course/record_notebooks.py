"""``python -m labutils record``: one command that records the notebooks and proves the recording.

0. labutils' own images are removed (the base images are kept), so every
   recording starts from the same build cache.
1. Every numbered notebook runs live, in order, in a scratch work folder, with
   each engine call recorded; its fresh outputs become the stored outputs.
2. Every notebook runs again in recorded mode with no engine at all (DOCKER_HOST
   points at nothing), and each replayed entry is noted.
3. Entries nothing replayed are listed: a recording a reviewer can trust holds
   only what the notebooks ask.

The new recording replaces the old one only when every notebook ran through, both times.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from labutils.backends import live_engine, notebook_files, reset_caches
from labutils.errors import InvalidArgument, LabError
from labutils.settings import overridden, settings

NO_ENGINE = "unix:///nonexistent/labutils-recorded-mode.sock"


@contextmanager
def _environment(**values):
    with overridden(**values):
        try:
            yield
        finally:
            reset_caches()


def _execute(path: Path, timeout: int):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def unreplayed(recording: Path, replay_log: Path) -> list[dict]:
    """Entries of the recording that no replay asked for."""
    used = set(replay_log.read_text().splitlines()) if replay_log.exists() else set()
    left = []
    for f in notebook_files(recording):
        book = json.loads(f.read_text())
        left += [{"notebook": book["notebook"], "n": e["n"], "cell": e["cell"], "call": e["call"], "key": e["key"]}
                 for e in book["entries"] if f"{book['notebook']}\t{e['n']}" not in used]
    return left


def record_notebooks(notebooks, out=None, timeout: int = 900, write_outputs: bool = True) -> int:
    """Record every notebook live, store its outputs, replay all with no engine; 0 when nothing is left unreplayed.

    Raises:
        EngineUnavailable: no engine answers (recording needs one).
        LabError: there are no numbered notebooks; a notebook failed live or in replay.
    """
    import nbformat
    target = Path(out) if out else settings().recording
    if target.exists() and any(target.iterdir()) and not (target / "meta.json").is_file():
        raise LabError(f"{target} is not a recording (it has no meta.json), so record will not replace it.",
                       hint="pass --out a new folder, or an earlier recording's folder.")
    with overridden(LABUTILS_MODE="live"):
        live_engine("recording the notebooks")               # fail now, clearly, without an engine
    from labutils.ops.images import clean
    removed = clean()                                 # every record starts from the same build cache
    print(f"Removed {len(removed)} container(s) and image(s) labutils had made (base images kept), so that every "
          "recording starts from the same build cache.", flush=True)
    out = Path(out) if out else settings().recording
    paths = sorted(Path(notebooks).glob("[0-9]*.ipynb"))
    if not paths:
        raise InvalidArgument(f"There are no numbered notebooks in {notebooks}.", hint="pass --notebooks <folder>.")
    with tempfile.TemporaryDirectory(prefix="labutils-record-") as tmp:
        new, log = Path(tmp) / "recorded", Path(tmp) / "replayed.txt"
        executed = {}
        for path in paths:
            print(f"recording {path.name} (live) ...", flush=True)
            with _environment(LABUTILS_RECORD=str(new), LABUTILS_WORK=str(Path(tmp) / "live" / "work"),
                              LABUTILS_MODE="live", LABUTILS_NOTEBOOK=path.stem, LABUTILS_REPLAY_LOG=None):
                executed[path] = _execute(path, timeout)
        meta = json.loads((new / "meta.json").read_text())
        meta.update(notebooks=[p.name for p in paths], made_by="python -m labutils record")
        (new / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        for path in paths:
            print(f"replaying {path.name} (recorded, no engine) ...", flush=True)
            with _environment(LABUTILS_RECORDING=str(new), LABUTILS_WORK=str(Path(tmp) / "replay" / "work"),
                              LABUTILS_MODE="recorded", LABUTILS_NOTEBOOK=path.stem, LABUTILS_REPLAY_LOG=str(log),
                              LABUTILS_RECORD=None, DOCKER_HOST=NO_ENGINE):
                _execute(path, timeout)
        left = unreplayed(new, log)
        _replace_dir(new, out)
    if write_outputs:
        for path, nb in executed.items():
            nbformat.write(nb, path)
    entries = sum(len(json.loads(f.read_text())["entries"]) for f in notebook_files(out))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"Recorded {entries} calls from {len(paths)} notebooks into {out} ({size / 1e6:.2f} MB, {meta['recorded']}, "
          f"Docker Engine {meta['docker_version']}); every notebook also ran through in recorded mode.")
    for e in left:
        print(f"not replayed: {e['notebook']} cell {e['cell']}: {e['call']} {json.dumps(e['key'])[:120]}")
    print(f"{len(left)} recorded call(s) nothing replayed.")
    return 1 if left else 0


def _replace_dir(new: Path, out: Path) -> None:
    """Put a copy of ``new`` at ``out``: written beside it first, then renamed into place, so a failed copy
    leaves the old recording whole. The old one goes only once the new one is there."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(f".{out.name}.new")
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(new, staged)
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staged.rename(out)
    shutil.rmtree(old, ignore_errors=True)
