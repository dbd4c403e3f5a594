"""The lab's files: written into ``work/`` as the learner would, shown, and checked.

The files live once, in ``data/exercises/<exercise>/``. ``write_exercise``
copies them into ``work/<exercise>/`` and prints each one, so the notebook shows
what the learner would type; a file the learner has changed is kept, not
overwritten.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from . import bases, tracking
from .backend import backend
from .containers import RunResult
from .errors import CheckpointFailed, InvalidArgument, LabError
from .settings import WORK_NAMES, made_by_labutils, settings, work_dir


def work() -> Path:
    """The work folder (LABUTILS_WORK, default ``<repo>/work``), read now."""
    return settings().work


def exercise_files(pattern: str = "*/Dockerfile*") -> list[Path]:
    """The lab's own files (in data/exercises/) that match ``pattern``, sorted. Used by notebook 07's lint."""
    return sorted(settings().exercises.glob(pattern))


def checkpoint(ok: bool, passed: str, fix: str, left_out: str | None = None) -> None:
    """Assert a lesson's point on the learner's own results; print it, or say how to fix it.

    Args:
        ok: whether the lesson's point holds on the learner's results.
        passed: what holds, printed after a tick.
        fix: what to change when it does not hold.
        left_out: why this machine cannot judge it (no QEMU, say): printed, nothing asserted or recorded.

    Raises:
        CheckpointFailed: ``ok`` is false; the message names the lesson, the hint what to change.

    Example:
        >>> lu.checkpoint(result.size < 10e6, passed="under 10 MB", fix="copy only the binary")
    """
    if left_out:
        print(f"– left out: {passed}. {left_out}")
        return
    tracking.mark(passed, ok)
    if not ok:
        raise CheckpointFailed(f"Checkpoint failed: {passed}", hint=fix)
    print(f"✔ {passed}")


def write_exercise(name: str, *files: str, overwrite: bool = False, show: bool = True) -> Path:
    """Write the lab's files for ``name`` into ``work/name/`` and print them.

    ``files`` picks some of them (default: all). A file that already exists and
    differs from the lab's is the learner's: it is kept unless ``overwrite``.
    Every notebook starts with it.

    Raises:
        LabError: there is no such exercise or file (names the ones there are).
    """
    s = settings()
    src = s.exercises / name
    if not src.is_dir():
        known = sorted(p.name for p in s.exercises.iterdir())
        raise InvalidArgument(f"There is no exercise {name!r}.", hint=f"use one of {known}.")
    dest = work_dir() / name
    dest.mkdir(parents=True, exist_ok=True)
    chosen = [src / f for f in files] if files else sorted(p for p in src.iterdir() if p.is_file())
    for path in chosen:
        if not path.is_file():
            raise InvalidArgument(f"The exercise {name!r} has no file {path.name!r}.",
                           hint=f"use one of {sorted(p.name for p in src.iterdir())}.")
        target = dest / path.name
        kept = target.exists() and target.read_bytes() != path.read_bytes() and not overwrite
        if not kept:
            shutil.copy2(path, target)
        if show:
            _print_file(target, "  (yours, kept: it differs from the lab's; overwrite=True restores it)" if kept else "")
    return dest


def shown(path) -> str:
    """A learner's path as the notebooks name it: relative to the folder that holds work/."""
    try:
        return str(Path(path).resolve().relative_to(work().resolve().parent))
    except ValueError:
        return str(path)


def show(path) -> None:
    """Print a file of the learner's, with its name."""
    _print_file(path)


def _print_file(path, note: str = "") -> None:
    print(f"--- {shown(path)}{note}")
    print(Path(path).read_text().rstrip("\n"))


def run_script(folder, script: str = "build.sh", timeout: float = 600) -> RunResult | None:
    """Run the learner's shell script with the real ``docker`` CLI, unchanged. Taught in notebook 02.

    It runs in a temporary copy of ``folder``; where a base image must be
    replaced by its stand-in, that copy's Dockerfiles name the stand-in (the
    learner's files are not changed). The classic builder is used
    (DOCKER_BUILDKIT=0), as by ``build()``, so both share one build cache.
    Where there is no docker CLI, it says so and returns None: the same steps
    run through ``build`` and ``copy_out``. With LABUTILS_NAMESPACE set (a shared
    engine), the script's docker steps run through labutils instead, labelled and in
    the learner's namespace, so learners never touch each other's images or containers.

    Raises:
        LabError: the script failed (its exit code and the last lines it printed).
    """
    b = backend()
    folder = Path(folder)
    if settings().namespace:
        return _run_in_namespace(folder, script)
    if b.docker_cli() is None:
        print("No docker CLI here: the same steps run through labutils below.")
        return None
    with tempfile.TemporaryDirectory(prefix="labutils-script-") as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy)
        for df in sorted(copy.glob("Dockerfile*")):
            prepared = bases.prepare(df, quiet=True)
            for original, sub in prepared.substitutions.items():
                print(f"[labutils] {df.name}: {original} -> stand-in {sub} (in a copy; yours is unchanged)")
            if prepared.substitutions:
                shutil.copy(prepared.path, df)
            prepared.cleanup()
        a = b.run_script(str(copy), script, timeout, source=str(folder))
    print(a["stdout"], end="")
    if a["exit_code"] != 0:
        raise LabError(f"{script} failed.", command=f"sh {script}", exit_code=a["exit_code"],
                       log_tail="\n".join((a["stdout"] + a["stderr"]).splitlines()[-12:]),
                       hint="read its output; the steps also run through labutils in the next cells.")
    return RunResult(script, f"sh {script}", a["exit_code"], a["stdout"], a["stderr"], a["seconds"],
                     recorded=b.describe()["label"])


def _run_in_namespace(folder: Path, script: str) -> RunResult:
    """build.sh's docker steps through labutils, in this learner's namespace (a shared engine)."""
    from .grading import script_steps
    from .steps import run_steps
    path = folder / script
    if not path.is_file():
        raise InvalidArgument(f"There is no {script} in {folder}.", hint="write the lab's files first (write_exercise).")
    steps, _ = script_steps(path)
    for number, verb, args in steps:
        if verb in ("unreadable", "other") or verb.startswith("docker "):
            raise LabError(f"{script} line {number} is not a step labutils can run for you on a shared engine: "
                           f"`{' '.join(args)}`.", command=f"sh {script}",
                           hint="keep to the builder pattern's steps (docker build, container create, cp, rm, and "
                                "rm of the binary), or run it on an engine of your own without LABUTILS_NAMESPACE.")
    ns = settings().namespace
    print(f"[labutils] LABUTILS_NAMESPACE={ns}: {script}'s docker steps run through labutils, so its images are "
          f"yours ({ns}/...) and its container is labelled and removed; the folder is a copy, yours is unchanged.")
    start = time.perf_counter()
    result = run_steps(folder, steps, lambda tag, last: tag)
    return RunResult(script, f"sh {script}", 0, result.log, "", round(time.perf_counter() - start, 3),
                     recorded=backend().describe()["label"])


def reset_work(dry_run: bool = False) -> list[Path]:
    """Remove what the lab wrote under work/: exercise folders, yours, results, progress, figures. Returns what went.

    Only names labutils writes are removed, and only from a work folder labutils made (or the course's own
    ``<repo>/work``): a folder of the learner's own, named by LABUTILS_WORK, is refused whole.

    Raises:
        LabError: the work folder was not made by labutils (nothing is removed).
    """
    folder = work()
    if not folder.is_dir():
        return []
    if not made_by_labutils(folder):
        raise LabError(f"{folder} was not made by labutils, so reset removes nothing from it.",
                       hint=f"LABUTILS_WORK names a folder of your own: point it at a new folder (labutils makes "
                            f"and marks it), or remove the lab's files from {folder} by hand.")
    ours = set(WORK_NAMES) | {p.name for p in settings().exercises.iterdir() if p.is_dir()}
    gone = sorted(p for p in folder.iterdir()
                  if p.name in ours or (p.name.startswith((".results.csv.", ".progress.json.")) and p.name.endswith(".tmp")))
    if not dry_run:
        for path in gone:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return gone
