"""The learner's build.sh run: ``run_script`` with the real docker CLI (a copy of the folder), or its docker
steps through labutils: labelled, in the learner's namespace, in a copy of the folder.

``your_turn("builder-pattern")`` grades a learner's script this way, and ``run_script`` runs notebook 02's
this way on a shared engine, so that two learners' ``welcome-builder:v1`` and ``builder`` container never
meet. Only the builder pattern's steps run (build, container create, cp, rm, and rm of a file); every path
a step names stays inside the copy.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labutils import bases
from labutils.backends import backend
from labutils.errors import BuildFailed, InvalidArgument, LabError
from labutils.grading.checks import flag, positional, script_steps
from labutils.ops.build import BuildResult, build
from labutils.ops.containers import RunResult, copy_out
from labutils.settings import settings

ScriptStep = tuple[int, str, list[str]]


def _inside(copy: Path, name: str, number: int) -> Path:
    path = (copy / name).resolve()
    if path != copy.resolve() and copy.resolve() not in path.parents:
        raise BuildFailed(f"build.sh line {number} names {name!r}, which is outside its folder.",
                          hint="copy the binary into the folder the script runs in (`.`), and remove it from there.")
    return path


def run_steps(folder: Path, steps: list[ScriptStep], name_for: Callable[[str, bool], str], *,
              labels: dict | None = None, quiet: bool = False) -> BuildResult:
    """Run build.sh's ``steps`` (from ``grading.script_steps``) in a temporary copy of ``folder``.

    ``name_for(tag, last)`` gives the image name for each ``docker build -t tag`` (``last`` for the final build);
    the script's container is ``copy_out``'s own, labelled and removed at once. The learner's folder is not changed.
    Lines that are no step of the pattern are skipped here (the grading names them).

    Raises:
        BuildFailed: a build failed, the script builds nothing, copies from a container no step created,
            or names a path outside its folder.
    """
    builds = [s for s in steps if s[1] == "build"]
    if not builds:
        raise BuildFailed("build.sh builds no image.", hint="add the two `docker image build` steps.")
    containers: dict[str, str] = {}
    renamed: dict[str, str] = {}
    result = None
    with tempfile.TemporaryDirectory(prefix="labutils-steps-") as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy, symlinks=True)
        for number, verb, args in steps:
            if verb == "build":
                tag = flag(args, "-t", "--tag") or f"step-{number}"
                mine = name_for(tag, (number, verb, args) == builds[-1])
                renamed[tag] = mine
                context = _inside(copy, (positional(args, ("-t", "--tag", "-f", "--file")) or ["."])[-1], number)
                dockerfile = flag(args, "-f", "--file")
                if dockerfile:
                    _inside(copy, str(context / dockerfile), number)
                result = build(context, mine, dockerfile=dockerfile, labels=labels, quiet=quiet)
            elif verb == "create":
                image = positional(args, ("--name",))
                containers[flag(args, "--name") or ""] = renamed.get(image[0], image[0]) if image else ""
            elif verb == "cp" and args and ":" in args[0]:
                name, _, path = args[0].partition(":")
                dest = _inside(copy, args[1] if len(args) > 1 else ".", number)
                if name not in containers:
                    raise BuildFailed(f"build.sh line {number} copies from {name!r}, which no step created.",
                                      hint="create the container by that --name first.")
                copy_out(containers[name], path, dest)
            elif verb == "rm-host":
                for a in args:
                    if not a.startswith("-"):
                        _inside(copy, a, number).unlink(missing_ok=True)
    assert result is not None
    return result


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

    Args:
        folder: the exercise's folder (``work/builder-pattern``).
        script: the script's name in it.
        timeout: seconds before the script is stopped.

    Raises:
        LabError: the script failed (its exit code and the last lines it printed).

    Example:
        >>> lu.run_script("work/builder-pattern")
    """
    b = backend()
    folder = Path(folder)
    if settings().namespace:
        return _run_in_namespace(folder, script)
    if b.docker_cli() is None:
        print("No docker CLI here: the same steps run through labutils below.")
        return None
    a = _run_in_copy(folder, script, timeout)
    print(a["stdout"], end="")
    if a["exit_code"] != 0:
        raise LabError(f"{script} failed.", command=f"sh {script}", exit_code=a["exit_code"],
                       log_tail="\n".join((a["stdout"] + a["stderr"]).splitlines()[-12:]),
                       hint="read its output; the steps also run through labutils in the next cells.")
    return RunResult(script, f"sh {script}", a["exit_code"], a["stdout"], a["stderr"], a["seconds"],
                     recorded=b.describe()["label"])


@dataclass(frozen=True)
class ScriptRun:
    """A learner's script run in a copy of their folder: its exit code, what it printed, the files it left."""
    exit_code: int
    output: str
    new_files: tuple[str, ...]


def run_copy(folder: Path, script: str = "build.sh", timeout: float = 600) -> ScriptRun:
    """``sh script`` with the real docker CLI in a copy of ``folder``: what a learner's ``./build.sh`` does.

    The copy's Dockerfiles name a stand-in where a base image is not here (the learner's are unchanged).
    ``new_files`` are what the script left in the copy that the folder did not have (a binary not removed).
    """
    a = _run_in_copy(Path(folder), script, timeout, leftovers=True)
    return ScriptRun(a["exit_code"], a["stdout"] + a["stderr"], tuple(a.get("left", ())))


def _run_in_copy(folder: Path, script: str, timeout: float, leftovers: bool = False) -> dict:
    b = backend()
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
        had = {p.name for p in copy.iterdir()}
        a = dict(b.run_script(str(copy), script, timeout, source=str(folder)))
        if leftovers:
            a["left"] = sorted(p.name for p in copy.iterdir() if p.name not in had)
    return a


def _run_in_namespace(folder: Path, script: str) -> RunResult:
    """build.sh's docker steps through labutils, in this learner's namespace (a shared engine)."""
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
