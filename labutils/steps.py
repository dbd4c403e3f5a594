"""build.sh's docker steps run through labutils: labelled, in the learner's namespace, in a copy of the folder.

``your_turn("builder-pattern")`` grades a learner's script this way, and ``run_script`` runs notebook 02's
this way on a shared engine, so that two learners' ``welcome-builder:v1`` and ``builder`` container never
meet. Only the builder pattern's steps run (build, container create, cp, rm, and rm of a file); every path
a step names stays inside the copy.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .building import BuildResult, build
from .containers import copy_out
from .errors import BuildFailed
from .grading import flag, positional

Step = tuple[int, str, list[str]]


def _inside(copy: Path, name: str, number: int) -> Path:
    path = (copy / name).resolve()
    if path != copy.resolve() and copy.resolve() not in path.parents:
        raise BuildFailed(f"build.sh line {number} names {name!r}, which is outside its folder.",
                          hint="copy the binary into the folder the script runs in (`.`), and remove it from there.")
    return path


def run_steps(folder: Path, steps: list[Step], name_for: Callable[[str, bool], str], *,
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
