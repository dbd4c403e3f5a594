"""The lab's files: written into ``work/`` as the learner would, shown, and checked.

The files live once, in ``data/exercises/<exercise>/``. ``write_exercise``
copies them into ``work/<exercise>/`` and prints each one, so the notebook shows
what the learner would type; a file the learner has changed is kept, not
overwritten.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import bases, engine, recording
from .containers import RunResult
from .errors import LabError

EXERCISES = bases.DATA / "exercises"
WORK = Path(os.environ.get("LABUTILS_WORK", bases.DATA.parent / "work"))


class CheckpointFailed(LabError):
    """A notebook checkpoint found that the lesson's result is not what it should be."""


def checkpoint(ok: bool, passed: str, fix: str) -> None:
    """Assert a lesson's point on the learner's own results; say how to fix a failure."""
    if not ok:
        raise CheckpointFailed(f"Checkpoint failed: {passed}", hint=fix)
    print(f"✔ {passed}")


def write_exercise(name: str, *files: str, overwrite: bool = False, show: bool = True) -> Path:
    """Write the lab's files for ``name`` into ``work/name/`` and print them.

    ``files`` picks some of them (default: all). A file that already exists and
    differs from the lab's is the learner's: it is kept unless ``overwrite``.
    """
    src = EXERCISES / name
    if not src.is_dir():
        known = sorted(p.name for p in EXERCISES.iterdir())
        raise LabError(f"There is no exercise {name!r}.", hint=f"use one of {known}.")
    dest = WORK / name
    dest.mkdir(parents=True, exist_ok=True)
    chosen = [src / f for f in files] if files else sorted(p for p in src.iterdir() if p.is_file())
    for path in chosen:
        if not path.is_file():
            raise LabError(f"The exercise {name!r} has no file {path.name!r}.",
                           hint=f"use one of {sorted(p.name for p in src.iterdir())}.")
        target = dest / path.name
        kept = target.exists() and target.read_bytes() != path.read_bytes() and not overwrite
        if not kept:
            shutil.copy2(path, target)
        if show:
            note = "  (yours, kept: it differs from the lab's; overwrite=True restores it)" if kept else ""
            print(f"--- {target.relative_to(WORK.parent)}{note}")
            print(target.read_text().rstrip("\n"))
    return dest


def show(path) -> None:
    """Print a file of the learner's, with its name."""
    path = Path(path)
    try:
        shown = path.resolve().relative_to(WORK.resolve().parent)
    except ValueError:
        shown = path
    print(f"--- {shown}")
    print(path.read_text().rstrip("\n"))


def _script_key(folder, script, timeout):
    folder = Path(folder)
    return {"script": script, "folder": folder.name,
            "files": recording.files_digest(folder, sorted(p.name for p in folder.iterdir() if p.is_file()))}


def _script_decode(a, entry, **_) -> RunResult:
    return RunResult(**a, recorded=recording.replay().label)


@recording.replayable("run_script", key=_script_key, decode=_script_decode,
                      encode=lambda r: {k: getattr(r, k) for k in
                                        ("image", "command", "exit_code", "stdout", "stderr", "seconds")},
                      what=lambda script, **_: f"sh {script}")
def run_script(folder, script: str = "build.sh", timeout: float = 600) -> RunResult:
    """Run the learner's shell script with the real ``docker`` CLI, unchanged.

    It runs in a temporary copy of ``folder``; where a base image must be
    replaced by its stand-in, that copy's Dockerfiles name the stand-in (the
    learner's files are not changed). The classic builder is used
    (DOCKER_BUILDKIT=0), as by ``build()``, so both share one build cache.
    """
    cli = engine.docker_cli()
    if cli is None:
        raise LabError("There is no docker command-line client on this machine.",
                       hint="the same steps run through labutils (build, copy_out) in the next cells.")
    folder = Path(folder)
    engine.client()
    with tempfile.TemporaryDirectory(prefix="labutils-script-") as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy)
        for df in copy.glob("Dockerfile*"):
            prepared = bases.prepare(df, quiet=True)
            for original, sub in prepared.substitutions.items():
                print(f"[labutils] {df.name}: {original} -> stand-in {sub} (in a copy; yours is unchanged)")
            if prepared.substitutions:
                shutil.copy(prepared.path, df)
            prepared.cleanup()
        env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")
        env.setdefault("DOCKER_HOST", engine.engine_url().replace("http+unix://", "unix://"))
        start = time.perf_counter()
        proc = subprocess.run(["sh", script], cwd=copy, env=env, capture_output=True, text=True,
                              timeout=timeout)
    result = RunResult(script, f"sh {script}", proc.returncode, proc.stdout, proc.stderr,
                       time.perf_counter() - start)
    print(proc.stdout, end="")
    if proc.returncode != 0:
        raise LabError(f"{script} failed.", command=f"sh {script}", exit_code=proc.returncode,
                       log_tail="\n".join((proc.stdout + proc.stderr).splitlines()[-12:]),
                       hint="read its output; the steps also run through labutils in the next cells.")
    return result


def reset_work(dry_run: bool = False) -> list[Path]:
    """Remove what the lab wrote under work/: exercise folders, results, figures. Returns what went."""
    work = Path(os.environ.get("LABUTILS_WORK", WORK))
    if not work.is_dir():
        return []
    gone = sorted(work.iterdir())
    if not dry_run:
        for path in gone:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return gone
