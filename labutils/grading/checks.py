"""The file checks of "your turn": what a reviewer reads in the learner's Dockerfiles and build.sh.

Pure functions of the files (no engine): every exercise's Task, the Check they produce, and each finding
naming its line (read by ``dockerfile.read``, numbered as an editor numbers them). ``yourturn`` adds
the image checks and runs them.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from labutils.docker.dockerfile import Instruction, Stage, read  # noqa: F401 (graders name them here)
from labutils.docker.references import repository_name

EXERCISE_LABEL = "io.labutils.exercise"

@dataclass(frozen=True)
class Task:
    """One exercise a learner writes: the files to write, the sources given, and what its image must be."""
    exercise: str
    title: str
    write: tuple[str, ...]
    given: tuple[str, ...]
    tag: str                       # the learner's image, as the lab names it
    reference: str                 # the lab's own image for the same exercise
    final_base: str                # "golang", "scratch" or "alpine"
    stages: int                    # at least this many FROM lines in the graded Dockerfile
    serves: bool = False
    max_size: float | None = None
    min_size: float | None = None
    same_as: str | None = None     # the lesson says "identical" to this image's final layer
    builder_dockerfile: str = ""   # the builder pattern: the build image's Dockerfile, graded first
    script: str = ""               # the builder pattern: the script that builds both images
    also_final: tuple[str, ...] = ()   # other final bases that are correct too (passed with what the book does)
    commands: tuple[str, ...] = ()     # the book's commands, typed in work/yours/<exercise>/ (with the :yours tag)

    @property
    def graded(self) -> str:
        """The Dockerfile whose build the checks name (the build image's, in the builder pattern)."""
        return self.builder_dockerfile or "Dockerfile"


TASKS = {t.exercise: t for t in (
    Task("normal-build", "Exercise 4.01: a normal build", ("Dockerfile",), ("welcome.go",),
         "welcome:yours", "welcome:v1", "golang", 1, min_size=300e6,
         commands=("docker build -t welcome:yours .", "docker run welcome:yours", "docker image ls")),
    Task("builder-pattern", "Exercise 4.02: the builder pattern", ("Dockerfile.build", "Dockerfile", "build.sh"),
         ("welcome.go",), "welcome-runtime:yours", "welcome-runtime:v1", "scratch", 1, max_size=10e6,
         builder_dockerfile="Dockerfile.build", script="build.sh", also_final=("alpine",),
         commands=("chmod +x build.sh", "./build.sh", "docker run welcome-runtime:yours", "docker image ls")),
    Task("multi-stage", "Exercise 4.03: one multi-stage Dockerfile", ("Dockerfile",), ("welcome.go",),
         "welcome-optimized:yours", "welcome-optimized:v1", "scratch", 2, max_size=10e6,
         same_as="welcome-runtime:v1", also_final=("alpine",),
         commands=("docker build -t welcome-optimized:yours .", "docker run welcome-optimized:yours",
                   "docker image ls")),
    Task("activity", "Activity 4.01: the Go HTTP server", ("Dockerfile",), ("main.go",),
         "activity:yours", "activity:v1", "alpine", 2, serves=True, max_size=20e6, also_final=("scratch",),
         commands=("docker build -t activity:yours .", "docker run -d -p 8080:8080 activity:yours",
                   "curl localhost:8080/contact", "docker container ls", "docker container stop <CONTAINER ID>")),
)}


@dataclass(frozen=True)
class Check:
    """One thing a reviewer checks: what it is, whether it holds, and what to change in the learner's file."""
    what: str
    ok: bool
    fix: str = ""
    note: str = ""
    """Where it holds but differs from the book: ``correct; the book ...`` (or what else the learner should know)."""

    def __str__(self) -> str:
        if not self.ok:
            return f"✘ {self.what}\n    what to change: {self.fix}"
        return f"✔ {self.what}" + (f"\n    {self.note}" if self.note else "")


# --- reading the learner's Dockerfiles ----------------------------------------------------

def read_stages(path: Path) -> list[Stage]:
    """The stages of a learner's Dockerfile (``dockerfile.read``)."""
    return read(path).stages


def family_of(image: str) -> str:
    """``golang``, ``alpine``, ``scratch`` or the image's repository name (a stand-in counts as its original)."""
    if image.lower() == "scratch":
        return "scratch"
    repo = repository_name(image).lower()
    return repo[len("labutils-"):] if repo.startswith("labutils-") else repo


def stage_count(stages: list[Stage], task: Task) -> list[Check]:
    n = len(stages)
    if task.stages == 1:
        ok = n == 1
        return [Check("one stage: a normal build compiles and runs in the same image", ok,
                      "" if ok else f"Dockerfile has {n} FROM lines (lines {', '.join(str(s.line) for s in stages)}); "
                                    "a normal build has exactly one, FROM golang:1.15.6.")]
    ok = n >= task.stages
    return [Check(f"at least {task.stages} stages (a build stage and a runtime stage)", ok,
                  "" if ok else f"Dockerfile has {n} FROM line(s); add a second `FROM` for the runtime stage "
                                "after the build stage.")]


_BOOK_BASE = {"golang": "golang:1.15.6", "scratch": "scratch", "alpine": "alpine:latest"}


def base_check(stages: list[Stage], family: str, name: str, first: bool = False,
               also: tuple[str, ...] = ()) -> list[Check]:
    """The stage's FROM is the book's (``family``), or one of ``also``: correct too, passed with what the book does."""
    which = "the first stage" if first else "the final stage"
    want = _BOOK_BASE[family]
    if not stages:
        return [Check(f"{which} starts FROM {want}", False, f"{name} has no FROM line; start it with `FROM {want}`.")]
    stage = stages[0] if first else stages[-1]
    found = family_of(stage.base)
    subject = f"{which} of {name}" if len(stages) > 1 or first else name
    if found != family and found in also:
        return [Check(f"{subject} starts FROM {_BOOK_BASE[found]}", True,
                      note=f"correct; the book's starts FROM {want} (line {stage.line} says `FROM {stage.base}`).")]
    ok = found == family
    return [Check(f"{subject} starts FROM {want}", ok,
                  "" if ok else f"line {stage.line} of {name} says `FROM {stage.base}`; make it `FROM {want}`.")]


def copy_checks(stages: list[Stage], name: str, multi_stage: bool) -> list[Check]:
    final = stages[-1] if stages else None
    copies = [i for i in (final.instructions if final else ()) if i.name in ("COPY", "ADD")]
    what = "the final stage copies only the binary" + (" from the build stage (`COPY --from=`)" if multi_stage else "")
    if not copies:
        return [Check(what, False, f"{name}'s final stage (line {final.line if final else 1}) copies nothing; add "
                                   + ("`COPY --from=builder /myapp/welcome .`" if multi_stage else "`COPY welcome .`")
                                   + " after its FROM.")]
    for ins in copies:
        sources = list(ins.args[:-1])
        if multi_stage and ins.flag("from") is None:
            return [Check(what, False, f"line {ins.line} of {name} (`{ins.name} {ins.value}`) copies from the build "
                                       "context, not from the build stage; use `COPY --from=<stage> <binary> .`.")]
        whole = [s for s in sources if s.rstrip("/") in ("", ".", "/", "*") or "*" in s or s.endswith("/")]
        if whole or len(sources) != 1:
            return [Check(what, False, f"line {ins.line} of {name} (`{ins.name} {ins.value}`) copies "
                                       f"{'a whole folder' if whole else f'{len(sources)} paths'}; copy just the "
                                       "compiled program, one file.")]
    return [Check(what, True)]


# --- the builder pattern's script ---------------------------------------------------------

_DOCKER_VERBS = {("image", "build"): "build", ("build",): "build", ("container", "create"): "create",
                 ("create",): "create", ("container", "cp"): "cp", ("cp",): "cp", ("container", "rm"): "rm",
                 ("rm",): "rm"}


def script_steps(path: Path) -> tuple[list[tuple[int, str, list[str]]], list[Check]]:
    """build.sh's docker steps, line by line, and the checks a reviewer makes of them."""
    steps = read_script(path)
    return steps, _pattern_checks(steps) + [
        Check(f"build.sh line {number} is a step of the builder pattern", False,
              f"line {number} (`{' '.join(args)}`) is not one of the pattern's steps (docker build, "
              "container create, cp, rm, and rm of the binary); take it out.")
        for number, verb, args in steps if verb in ("unreadable", "other") or verb.startswith("docker ")]


def read_script(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, verb, arguments)`` of each step of a shell script: docker's verbs named, ``rm-host``, ``other``.

    A line ending in ``\\`` goes on on the next (the step is numbered by its first line).
    """
    steps: list[tuple[int, str, list[str]]] = []
    lines = path.read_text().splitlines()
    number = 0
    while number < len(lines):
        first, text = number + 1, lines[number].strip()
        while text.endswith("\\") and number + 1 < len(lines):
            number += 1
            text = text[:-1] + " " + lines[number].strip()
        number += 1
        if not text or text.startswith("#"):
            continue
        try:
            words = shlex.split(text, comments=True)
        except ValueError as exc:
            steps.append((first, "unreadable", [str(exc)]))
            continue
        if words and words[0] == "docker":
            rest = words[1:]
            n = next((n for n in (2, 1) if tuple(rest[:n]) in _DOCKER_VERBS), 0)
            steps.append((first, _DOCKER_VERBS[tuple(rest[:n])], rest[n:]) if n
                         else (first, "docker " + " ".join(rest[:2]), rest))
        elif words and words[0] == "rm":
            steps.append((first, "rm-host", words[1:]))
        elif words and words[0] not in ("echo", "set"):
            steps.append((first, "other", words))
    return steps


def _pattern_checks(steps: list[tuple[int, str, list[str]]]) -> list[Check]:
    """The builder pattern's six steps, each a check naming what to add."""
    builds = [s for s in steps if s[1] == "build"]
    created = [s for s in steps if s[1] == "create"]
    copied = [s for s in steps if s[1] == "cp"]
    removed = [s for s in steps if s[1] == "rm"]

    def names(args):
        return {a for a in args if not a.startswith("-")}

    container = flag(created[0][2], "--name") if created else None
    return [
        Check("build.sh builds the builder image from Dockerfile.build",
              any(os.path.normpath(flag(a, "-f", "--file") or ".") == "Dockerfile.build" for _, _, a in builds),
              "add `docker image build -t welcome-builder:v1 -f Dockerfile.build .` as its first step."),
        Check("build.sh creates a container from the builder image, by name", bool(created and container),
              ("add `docker container create --name welcome-builder-container welcome-builder:v1` after the build."
               if not created else f"line {created[0][0]} of build.sh creates a container without --name; "
                                   "name it, so that the next steps can copy from it and remove it.")),
        Check("build.sh copies the binary out of that container", bool(copied) and bool(container) and any(
            a and a[0].startswith(f"{container}:") for _, _, a in copied),
              "add `docker container cp welcome-builder-container:/myapp/welcome .` after the create."),
        Check("build.sh removes the container it created", bool(container) and any(
            container in names(a) for _, _, a in removed),
              f"add `docker container rm -f {container or 'welcome-builder-container'}` after the copy: the "
              "builder pattern leaves no container behind."),
        Check("build.sh builds the runtime image from Dockerfile",
              any(os.path.normpath(flag(a, "-f", "--file") or "Dockerfile") == "Dockerfile" for _, _, a in builds[1:]),
              "add `docker image build -t welcome-runtime:v1 .` after the copy."),
        Check("build.sh removes the binary it copied to the host", any(s[1] == "rm-host" for s in steps),
              "end with `rm welcome`: the binary was only passing through your folder."),
    ]


_MOVES_FILES = {"rm", "cp", "mv", "cd", "ln", "chmod", "touch", "mkdir", "rmdir"}


def outside_paths(path: Path) -> list[Check]:
    """A guard before a learner's script runs: a line whose file command (``rm``, ``cp``, ``cd``, ``docker cp``'s
    destination) names a path outside its folder (absolute, ``~``, ``..`` or a variable) is refused, not run.

    It keeps a slip (``rm ~/welcome``) from reaching the learner's other files when labutils runs the script
    in a copy; it is no sandbox: the script is the learner's own, on their own engine.
    """
    found = []
    for number, verb, args in read_script(path):
        if verb == "rm-host":
            words = args
        elif verb == "cp":                                  # the host side of `docker container cp`
            words = [a for a in args if ":" not in a]
        elif verb == "other" and args[0] in _MOVES_FILES:
            words = args[1:]
        else:
            words = []
        for w in (x for x in words if not x.startswith("-")):
            if w.startswith(("/", "~", "$")) or ".." in Path(w).parts:
                found.append(Check(f"build.sh line {number} stays inside its folder", False,
                                   f"line {number} names {w!r}, which is outside its folder: copy the binary into "
                                   "the folder the script runs in (`.`), and remove it from there."))
                break
    return found


def book_does(failed: list[Check]) -> str:
    """What the book's build.sh does where a script that works differs from it (its commands, from each fix)."""
    said = [m.group(1) for c in failed if (m := re.search(r"`([^`]+)`", c.fix))]
    return ("correct; the book's build.sh runs " + "; ".join(f"`{s}`" for s in said) + ".") if said else ""


def flag(args: list[str], *names: str) -> str | None:
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def positional(args: list[str], with_value: tuple[str, ...]) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in with_value:
            skip = True
        elif not a.startswith("-"):
            out.append(a)
    return out


def yours_tag(tag: str) -> str:
    repo, _, version = tag.rpartition(":") if ":" in tag else (tag, "", "latest")
    return f"{repo}:yours-{version}"
