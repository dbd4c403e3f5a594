"""The lab's files: written into ``work/`` as the learner would, shown, and checked.

The files live once, in ``data/exercises/<exercise>/``. ``write_exercise``
copies them into ``work/<exercise>/`` and prints each one, so the notebook shows
what the learner would type; a file the learner has changed is kept, not
overwritten.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from labutils.course import progress
from labutils.errors import CheckpointFailed, InvalidArgument, LabError
from labutils.settings import WORK_NAMES, made_by_labutils, settings, work_dir


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
    progress.note(passed, ok)
    if not ok:
        raise CheckpointFailed(f"Checkpoint failed: {passed}", hint=fix)
    print(f"✔ {passed}")


def write_exercise(name: str, *files: str, overwrite: bool = False, show: bool = True) -> Path:
    """Write the lab's files for ``name`` into ``work/name/`` and print them.

    ``files`` picks some of them (default: all). A file that already exists and
    differs from the lab's is the learner's: it is kept unless ``overwrite``.
    Every notebook starts with it.

    Args:
        name: the exercise (``normal-build``, ``builder-pattern``, ``multi-stage``, ``activity``, ...).
        files: some of its files (default: all).
        overwrite: replace a file the learner changed.
        show: print each file written.

    Raises:
        LabError: there is no such exercise or file (names the ones there are).

    Example:
        >>> folder = lu.write_exercise("multi-stage")
        >>> folder.name
        'multi-stage'
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
