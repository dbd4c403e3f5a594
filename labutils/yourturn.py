""""Your turn": the learner writes an exercise's files, labutils builds them and grades the image.

The learner's files live in ``work/yours/<exercise>/``; the lab's given sources
(``welcome.go``, ``main.go``) are put there, never the files to write. A review
reads the Dockerfiles (dockerfile-parse, so every finding names its line), builds
them as ``<image>:yours``, runs or serves the image, compares its files with the
reference where the lesson says "identical", and checks that no container is
left. hadolint's findings are added as advice, not graded.

    yours = lu.your_turn("multi-stage")   # builds and grades work/yours/multi-stage/Dockerfile
    yours.checkpoint()                     # in the Checkpoints section: passes, or says what to change
"""
from __future__ import annotations

import io
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from . import engine, tracking
from .backend import backend
from .build import BuildResult, build
from .containers import copy_out, ps, run, serve
from .errors import BuildFailed, CheckpointFailed, LabError, RecordingMissing
from .images import image_exists, same_files
from .settings import settings
from .util import human_size

WELCOME = "Welcome to multi-stage Docker builds\n"
PAGES = {"/": "<h1>Home Page</h1>", "/contact": "<h1>Contact Us</h1>", "/login": "<h1>Login Page</h1>"}
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


TASKS = {t.exercise: t for t in (
    Task("normal-build", "Exercise 4.01: a normal build", ("Dockerfile",), ("welcome.go",),
         "welcome:yours", "welcome:v1", "golang", 1, min_size=300e6),
    Task("builder-pattern", "Exercise 4.02: the builder pattern", ("Dockerfile.build", "Dockerfile", "build.sh"),
         ("welcome.go",), "welcome-runtime:yours", "welcome-runtime:v1", "scratch", 1, max_size=10e6),
    Task("multi-stage", "Exercise 4.03: one multi-stage Dockerfile", ("Dockerfile",), ("welcome.go",),
         "welcome-optimized:yours", "welcome-optimized:v1", "scratch", 2, max_size=10e6,
         same_as="welcome-runtime:v1"),
    Task("activity", "Activity 4.01: the Go HTTP server", ("Dockerfile",), ("main.go",),
         "activity:yours", "activity:v1", "alpine", 2, serves=True, max_size=20e6),
)}


@dataclass(frozen=True)
class Check:
    """One thing a reviewer checks: what it is, whether it holds, and what to change in the learner's file."""
    what: str
    ok: bool
    fix: str = ""

    def __str__(self) -> str:
        return f"✔ {self.what}" if self.ok else f"✘ {self.what}\n    what to change: {self.fix}"


@dataclass(frozen=True)
class Review:
    """The grading of one learner's exercise: every check, hadolint's advice, and the image built."""
    exercise: str
    folder: Path
    tag: str
    written: bool
    checks: tuple[Check, ...] = ()
    advice: tuple[str, ...] = ()
    missing: tuple[str, ...] = field(default=(), repr=False)
    result: BuildResult | None = field(default=None, repr=False)
    recorded: bool = field(default=False, repr=False)

    @property
    def passed(self) -> bool:
        """True when the learner's files exist and every check holds."""
        return self.written and bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def __repr__(self) -> str:
        if not self.written:
            return f"Review(exercise={self.exercise!r}, written=False, missing={list(self.missing)})"
        good = sum(c.ok for c in self.checks)
        return f"Review(exercise={self.exercise!r}, image={self.tag!r}, passed={good}/{len(self.checks)})"

    def __str__(self) -> str:
        if not self.written:
            return _not_written(self)
        lines = [str(c) for c in self.checks]
        if self.advice:
            lines.append("hadolint's advice (not graded):")
            lines += [f"    {a}" for a in self.advice]
        return "\n".join(lines)

    def checkpoint(self) -> None:
        """The Checkpoints section's grading: print every check, or raise naming each failure and its fix.

        Where the learner wrote nothing yet, it says so and passes: the notebook goes on with the reference.

        Raises:
            CheckpointFailed: a check does not hold; lists each one with what to change in which line.
        """
        if not self.written:
            print(f"– your turn ({self.exercise}): nothing of yours to grade yet "
                  f"({', '.join(self.missing)} missing in {_shown(self.folder)}); the lab's reference passed above.")
            return
        tracking.mark(f"your turn: {self.exercise}", self.passed)
        if self.failed:
            raise CheckpointFailed(
                f"Checkpoint failed: your {self.exercise} ({self.tag}) does not yet do what the lab asks: "
                f"{len(self.failed)} of {len(self.checks)} checks fail.",
                hint="\n" + "\n".join(f"  - {c.what}: {c.fix}" for c in self.failed))
        print(f"✔ your {self.exercise} passes every check ({len(self.checks)}): {self.tag}")


def yours(exercise: str) -> Path:
    """The learner's folder for ``exercise`` (``work/yours/<exercise>``), with the lab's given sources in it."""
    task = _task(exercise)
    folder = settings().work / "yours" / exercise
    folder.mkdir(parents=True, exist_ok=True)
    for name in task.given:
        target = folder / name
        if not target.exists():
            shutil.copy2(settings().exercises / exercise / name, target)
    return folder


def your_turn(exercise: str, *, quiet: bool = False) -> Review:
    """Build and grade the learner's own files for ``exercise``; print each check.

    Args:
        exercise: ``normal-build``, ``builder-pattern``, ``multi-stage`` or ``activity``.
        quiet: print nothing (the review is returned either way).

    Returns:
        Review: ``written=False`` (and what is missing) when the learner has not written the files yet.
        Checks that fail are results, not errors: ``Review.checkpoint()`` raises for them.

    Raises:
        LabError: there is no such exercise.
    """
    task = _task(exercise)
    folder = yours(exercise)
    missing = tuple(n for n in task.write if not (folder / n).is_file())
    if missing:
        review = Review(exercise, folder, task.tag, written=False, missing=missing)
        if not quiet:
            print(review)
        return review
    say = (lambda *a: None) if quiet else print
    for name in task.write:
        if not quiet:
            _show(folder / name)
    checks: list[Check] = []
    graded = folder / ("Dockerfile.build" if exercise == "builder-pattern" else "Dockerfile")
    if exercise == "builder-pattern":
        checks += _base_check(_stages(graded), "golang", "Dockerfile.build", first=True)
        runtime = _stages(folder / "Dockerfile")
        checks += _base_check(runtime, task.final_base, "Dockerfile")
        checks += _copy_checks(runtime, "Dockerfile", multi_stage=False)
        script, script_checks = _script(folder / "build.sh")
        checks += script_checks
    else:
        stages = _stages(graded)
        checks += _stage_count(stages, task)
        if task.stages > 1:
            checks += _base_check(stages, "golang", "Dockerfile", first=True)
        checks += _base_check(stages, task.final_base, "Dockerfile")
        if task.stages > 1:
            checks += _copy_checks(stages, "Dockerfile", multi_stage=True)
    advice = tuple(_advice(folder, task))
    recorded = bool(backend().describe()["label"])
    say(f"Building your {exercise} as {task.tag}:")
    try:
        if exercise == "builder-pattern":
            result = _run_script(folder, script, task, quiet)
        else:
            result = build(folder, task.tag, labels=_labels(exercise), quiet=quiet)
    except RecordingMissing:
        review = Review(exercise, folder, task.tag, True, tuple(checks), advice, recorded=True)
        say("Recorded mode: no engine here builds your files; the checks above read them, the image checks need "
            "an engine.")
        say(review)
        return review
    except BuildFailed as exc:
        checks.append(Check("it builds", False, _build_fix(exc, folder, graded)))
        review = Review(exercise, folder, task.tag, True, tuple(checks), advice, recorded=recorded)
        say(review)
        return review
    checks.append(Check("it builds", True))
    checks += _image_checks(task, folder, graded, result)
    review = Review(exercise, folder, task.tag, True, tuple(checks), advice, result=result, recorded=recorded)
    say(review)
    return review


# --- reading the learner's Dockerfiles ----------------------------------------------------

@dataclass(frozen=True)
class _Instruction:
    name: str
    value: str
    line: int          # 1-based, as an editor numbers it


@dataclass(frozen=True)
class _Stage:
    base: str
    alias: str
    line: int
    instructions: tuple[_Instruction, ...]


def _stages(path: Path) -> list[_Stage]:
    parser = DockerfileParser(fileobj=io.BytesIO(path.read_bytes()))
    stages: list[_Stage] = []
    current: list[_Instruction] = []
    for entry in parser.structure:
        if entry["instruction"] == "COMMENT":
            continue
        ins = _Instruction(entry["instruction"].upper(), entry["value"], entry["startline"] + 1)
        if ins.name == "FROM":
            words = [w for w in ins.value.split() if not w.startswith("--")]
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            stages.append(_Stage(words[0] if words else "", alias, ins.line, ()))
            current = []
        current.append(ins)
        if stages:
            stages[-1] = _Stage(stages[-1].base, stages[-1].alias, stages[-1].line, tuple(current))
    return stages


def _family(image: str) -> str:
    """``golang``, ``alpine``, ``scratch`` or the image's repository name (a stand-in counts as its original)."""
    if image.lower() == "scratch":
        return "scratch"
    repo = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0].lower()
    return repo[len("labutils-"):] if repo.startswith("labutils-") else repo


def _stage_count(stages: list[_Stage], task: Task) -> list[Check]:
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


def _base_check(stages: list[_Stage], family: str, name: str, first: bool = False) -> list[Check]:
    which = "the first stage" if first else "the final stage"
    want = {"golang": "golang:1.15.6", "scratch": "scratch", "alpine": "alpine:latest"}[family]
    if not stages:
        return [Check(f"{which} starts FROM {want}", False, f"{name} has no FROM line; start it with `FROM {want}`.")]
    stage = stages[0] if first else stages[-1]
    ok = _family(stage.base) == family
    subject = f"{which} of {name}" if len(stages) > 1 or first else name
    return [Check(f"{subject} starts FROM {want}", ok,
                  "" if ok else f"line {stage.line} of {name} says `FROM {stage.base}`; make it `FROM {want}`.")]


def _copy_checks(stages: list[_Stage], name: str, multi_stage: bool) -> list[Check]:
    final = stages[-1] if stages else None
    copies = [i for i in (final.instructions if final else ()) if i.name in ("COPY", "ADD")]
    what = "the final stage copies only the binary" + (" from the build stage (`COPY --from=`)" if multi_stage else "")
    if not copies:
        return [Check(what, False, f"{name}'s final stage (line {final.line if final else 1}) copies nothing; add "
                                   + ("`COPY --from=builder /myapp/welcome .`" if multi_stage else "`COPY welcome .`")
                                   + " after its FROM.")]
    for ins in copies:
        words = shlex.split(ins.value)
        flags = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        sources = paths[:-1]
        if multi_stage and not any(f.startswith("--from=") for f in flags):
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


def _script(path: Path) -> tuple[list[tuple[int, str, list[str]]], list[Check]]:
    """build.sh's docker steps, line by line, and the checks a reviewer makes of them."""
    steps: list[tuple[int, str, list[str]]] = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        try:
            words = shlex.split(text, comments=True)
        except ValueError as exc:
            steps.append((number, "unreadable", [str(exc)]))
            continue
        if words and words[0] == "docker":
            rest = words[1:]
            for n in (2, 1):
                verb = _DOCKER_VERBS.get(tuple(rest[:n]))
                if verb:
                    steps.append((number, verb, rest[n:]))
                    break
            else:
                steps.append((number, "docker " + " ".join(rest[:2]), rest))
        elif words and words[0] == "rm":
            steps.append((number, "rm-host", words[1:]))
        elif words and words[0] not in ("echo", "set", "cd"):
            steps.append((number, "other", words))
    builds = [s for s in steps if s[1] == "build"]
    created = [s for s in steps if s[1] == "create"]
    copied = [s for s in steps if s[1] == "cp"]
    removed = [s for s in steps if s[1] == "rm"]

    def names(args):
        return {a for a in args if not a.startswith("-")}

    container = _flag(created[0][2], "--name") if created else None
    checks = [
        Check("build.sh builds the builder image from Dockerfile.build",
              any(_flag(a, "-f", "--file") == "Dockerfile.build" for _, _, a in builds),
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
              any(_flag(a, "-f", "--file") in (None, "Dockerfile") for _, _, a in builds[1:]),
              "add `docker image build -t welcome-runtime:v1 .` after the copy."),
        Check("build.sh removes the binary it copied to the host", any(s[1] == "rm-host" for s in steps),
              "end with `rm welcome`: the binary was only passing through your folder."),
    ]
    for number, verb, args in steps:
        if verb in ("unreadable", "other") or verb.startswith("docker "):
            checks.append(Check(f"build.sh line {number} is a step of the builder pattern", False,
                                f"line {number} (`{' '.join(args)}`) is not one of the pattern's steps (docker build, "
                                "container create, cp, rm, and rm of the binary); take it out."))
    return steps, checks


def _flag(args: list[str], *names: str) -> str | None:
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def _run_script(folder: Path, steps, task: Task, quiet: bool) -> BuildResult:
    """build.sh's docker steps, run through labutils in a copy of the folder (labelled, namespaced, named yours).

    The last image the script builds is tagged ``task.tag``; the others ``<repo>:yours-<tag>``.
    """
    builds = [s for s in steps if s[1] == "build"]
    if not builds:
        raise BuildFailed("build.sh builds no image.", hint="add the two `docker image build` steps.")
    containers: dict[str, str] = {}
    renamed: dict[str, str] = {}
    result = None
    with tempfile.TemporaryDirectory(prefix="labutils-yours-") as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy)
        for number, verb, args in steps:
            if verb == "build":
                tag = _flag(args, "-t", "--tag") or f"step-{number}"
                mine = task.tag if (number, verb, args) == builds[-1] else _yours_tag(tag)
                renamed[tag] = mine
                context = [a for a in _positional(args, ("-t", "--tag", "-f", "--file"))] or ["."]
                result = build(copy / context[-1], mine, dockerfile=_flag(args, "-f", "--file"),
                               labels=_labels(task.exercise), quiet=quiet)
            elif verb == "create":
                image = _positional(args, ("--name",))
                containers[_flag(args, "--name") or ""] = renamed.get(image[0], image[0]) if image else ""
            elif verb == "cp" and args and ":" in args[0]:
                name, _, path = args[0].partition(":")
                dest = copy / (args[1] if len(args) > 1 else ".")
                if name not in containers:
                    raise BuildFailed(f"build.sh line {number} copies from {name!r}, which no step created.",
                                      hint="create the container by that --name first.")
                copy_out(containers[name], path, dest)
            elif verb == "rm-host":
                for a in args:
                    if not a.startswith("-"):
                        (copy / a).unlink(missing_ok=True)
    return result


def _positional(args: list[str], with_value: tuple[str, ...]) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in with_value:
            skip = True
        elif not a.startswith("-"):
            out.append(a)
    return out


def _yours_tag(tag: str) -> str:
    repo, _, version = tag.rpartition(":") if ":" in tag else (tag, "", "latest")
    return f"{repo}:yours-{version}"


# --- the image ----------------------------------------------------------------------------

def _image_checks(task: Task, folder: Path, graded: Path, result: BuildResult) -> list[Check]:
    checks = []
    final = folder / "Dockerfile"
    entry = next((i for i in reversed(_stages(final)[-1].instructions if _stages(final) else ())
                  if i.name in ("ENTRYPOINT", "CMD")), None)
    where = f"line {entry.line} of Dockerfile (`{entry.name} {entry.value}`)" if entry else "Dockerfile (no ENTRYPOINT)"
    if task.serves:
        try:
            with serve(task.tag) as server:
                bodies = {p: server.get(p).body for p in PAGES}
            ok = bodies == PAGES
            fix = "" if ok else (f"it answered {bodies}; serve the lab's main.go unchanged, and check {where}.")
        except LabError as exc:
            ok, fix = False, _serve_fix(exc, graded, where)
        checks.append(Check("it serves /, /contact and /login with the lab's three headings", ok, fix))
    else:
        out = run(task.tag)
        ok = out.ok and out.stdout == WELCOME
        checks.append(Check("it prints the lab's welcome line", ok,
                            "" if ok else f"it exited {out.exit_code} and printed {(out.stdout + out.stderr)[:200]!r}; "
                                          f"check {where} runs the program you built."))
    size = result.size
    if task.max_size is not None:
        ok = size < task.max_size
        checks.append(Check(f"a small image: {human_size(size)} (under {human_size(task.max_size)})", ok,
                            "" if ok else "the final stage should start FROM "
                                          f"{'scratch' if task.final_base == 'scratch' else 'alpine:latest'} and copy "
                                          "only the binary; the Go toolchain stays in the build stage."))
    if task.min_size is not None:
        ok = size > task.min_size
        checks.append(Check(f"the normal build ships the whole Go toolchain: {human_size(size)}", ok,
                            "" if ok else "a normal build runs where it compiles: one stage, FROM golang:1.15.6."))
    if task.same_as:
        if not image_exists(task.same_as):
            checks.append(Check(f"the same files as {task.same_as}", False,
                                f"{task.same_as} is not built yet: run notebook 02 (the builder pattern), "
                                "then this cell again."))
        else:
            ok = same_files(task.tag, task.same_as)
            checks.append(Check(f"its last layer holds the same files as {task.same_as} (the builder pattern's)", ok,
                                "" if ok else "build in `WORKDIR /myapp` with `go build -o welcome .` as "
                                              "Dockerfile.build does, and in the final stage use `WORKDIR /myapp` "
                                              "and `COPY --from=builder /myapp/welcome .`: the same program at "
                                              "the same path gives the same layer."))
    left = ps()
    ok = left.empty
    checks.append(Check("no container left behind", ok,
                        "" if ok else f"remove {', '.join(left['name'])} (lu.clean() removes what labutils made)."))
    return checks


def _serve_fix(exc: LabError, graded: Path, where: str) -> str:
    said = (exc.log_tail or exc.message).strip().splitlines()
    first = said[-1] if said else exc.message
    if "no such file or directory" in (exc.log_tail + exc.message):
        run_line = next((i for s in _stages(graded)[:1] for i in s.instructions
                         if i.name == "RUN" and "go build" in i.value), None)
        at = f"line {run_line.line} (`RUN {run_line.value}`)" if run_line else "the build stage's go build"
        return (f"the server could not start ({first!r}): the binary needs glibc, which alpine lacks. Build it "
                f"static: change {at} to `RUN CGO_ENABLED=0 go build -o main .`.")
    return f"the server did not answer ({first!r}); check {where} runs ./main and that it listens on port 8080."


def _build_fix(exc: BuildFailed, folder: Path, graded: Path) -> str:
    said = (exc.engine_said or exc.message).strip()
    if exc.step is None:
        return f"{said} {exc.hint or ''}".strip()
    candidates = [graded] + [p for p in (folder / "Dockerfile",) if p != graded and p.is_file()]
    for path in candidates:
        instructions = [i for s in _stages(path) for i in s.instructions]
        if 0 < exc.step <= len(instructions):
            ins = instructions[exc.step - 1]
            if not exc.instruction or exc.instruction.split()[0].upper() == ins.name:
                return f"line {ins.line} of {path.name} (`{ins.name} {ins.value}`) failed: {said}"
    return f"step {exc.step} ({exc.instruction}) failed: {said}"


def _advice(folder: Path, task: Task) -> list[str]:
    from .lint import hadolint, lint
    if hadolint() is None:
        return []
    out = []
    for name in task.write:
        if name.startswith("Dockerfile"):
            try:
                found = lint(folder / name)
            except LabError:
                continue
            out += [f"{name}:{r.line} {r.rule} ({r.level}): {r.message}" for r in found.itertuples()]
    return out


def _labels(exercise: str) -> dict:
    return {**engine.labels(), EXERCISE_LABEL: exercise}


def _task(exercise: str) -> Task:
    if exercise not in TASKS:
        raise LabError(f"There is no 'your turn' for {exercise!r}.", hint=f"use one of {sorted(TASKS)}.")
    return TASKS[exercise]


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(settings().work.resolve().parent))
    except ValueError:
        return str(path)


def _show(path: Path) -> None:
    print(f"--- {_shown(path)}")
    print(path.read_text().rstrip("\n"))


def _not_written(review: Review) -> str:
    task = TASKS[review.exercise]
    return (f"Your turn ({task.title}): write {', '.join(review.missing)} in {_shown(review.folder)}/ "
            f"({', '.join(task.given)} is there for you), then run this cell again. Nothing of yours to grade yet; "
            "the notebook goes on with the lab's reference.")
