""""Your turn": the learner writes an exercise's files and builds them, and labutils grades what they made.

The learner's files live in ``work/yours/<exercise>/``; the lab's given sources
(``welcome.go``, ``main.go``) are put there, never the files to write. Two ways in:

- in a terminal, the book's commands (``docker build -t welcome:yours .``, ``./build.sh``), then
  ``python -m labutils check normal-build`` or ``lu.check("normal-build")``: grades what the engine holds
  under the learner's tag and the files, whoever built the image (the docker CLI, with BuildKit or not);
- in a cell, ``lu.your_turn("normal-build")``: labutils builds the files (the builder pattern's own
  ``build.sh`` runs for real, in a copy of the folder) and grades the same way.

A review reads the Dockerfiles (every finding names its line), runs or serves the image, compares its
files with the reference where the lesson says "identical", and checks that nothing is left behind.
A correct answer that differs from the book passes, saying what the book does. hadolint's findings are
advice, not graded. A task with no files yet is *not attempted*: a state of its own in ``progress()``.

    yours = lu.check("multi-stage")        # after `docker build -t welcome-optimized:yours .` in a terminal
    yours.checkpoint()                     # in the Checkpoints section: passes, or says what to change
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from labutils import names
from labutils.backends import backend
from labutils.course import progress
from labutils.course.behaviour import behaves
from labutils.course.exercises import show, shown
from labutils.errors import BuildFailed, CheckpointFailed, InvalidArgument, LabError, RecordingMissing
from labutils.grading.checks import (
    EXERCISE_LABEL,
    TASKS,
    Check,
    Task,
    base_check,
    book_does,
    copy_checks,
    flag,
    outside_paths,
    read_script,
    read_stages,
    script_steps,
    stage_count,
    yours_tag,
)
from labutils.grading.script import run_copy, run_steps
from labutils.ops.build import BuildResult, build
from labutils.ops.containers import ps
from labutils.ops.images import image_exists, image_size, same_files
from labutils.settings import settings, work_dir
from labutils.util import human_size


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
    recorded: str = field(default="", repr=False)
    """Empty when graded live; else when and on which Docker the replayed answers were recorded (as every result)."""

    @property
    def passed(self) -> bool:
        """True when the learner's files exist and every check holds."""
        return self.written and bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def state(self) -> str:
        """``passed``, ``failed`` or ``not attempted`` (no files of the learner's yet)."""
        return "not attempted" if not self.written else "passed" if self.passed else "failed"

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

        Where the learner wrote nothing yet, it is kept as *not attempted* (``progress()`` shows it, and so do
        notebook 06 and the class view) and the notebook goes on.

        Raises:
            CheckpointFailed: a check does not hold; lists each one with what to change in which line.
        """
        progress.note(f"your turn: {self.exercise}", self.passed, state=self.state)
        if not self.written:
            print(f"– not attempted: your turn ({self.exercise}). {', '.join(self.missing)} missing in "
                  f"{shown(self.folder)}; progress() keeps it as not attempted until you write and check it.")
            return
        if self.failed:
            raise CheckpointFailed(
                f"Checkpoint failed: your {self.exercise} ({self.tag}) does not yet do what the lab asks: "
                f"{len(self.failed)} of {len(self.checks)} checks fail.",
                hint="\n" + "\n".join(f"  - {c.what}: {c.fix}" for c in self.failed))
        print(f"✔ your {self.exercise} passes every check ({len(self.checks)}): {self.tag}")


def yours(exercise: str) -> Path:
    """The learner's folder for ``exercise`` (``work/yours/<exercise>``), with the lab's given sources in it."""
    task = _task(exercise)
    folder = work_dir() / "yours" / exercise
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
            show(folder / name)
    graded = folder / task.graded
    for_real = bool(task.script) and not settings().namespace and backend().docker_cli() not in (None, "recorded")
    checks, script = file_checks(task, folder, script_as_book=for_real)
    advice = tuple(_advice(folder, task))
    recorded = backend().describe()["label"]
    if for_real:
        return _review_script_run(task, folder, checks, advice, quiet)
    say(f"Building your {exercise} as {task.tag}:")
    try:
        result = _build_yours(task, folder, script, quiet)
    except RecordingMissing:
        review = Review(exercise, folder, task.tag, True, tuple(checks), advice,
                        recorded=recorded or "recorded mode (no engine built these files)")
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
    checks += _image_checks(task, folder, graded, result.size)
    checks.append(_nothing_left_by_labutils())
    review = Review(exercise, folder, task.tag, True, tuple(checks), advice, result=result, recorded=recorded)
    say(review)
    return review


def check(exercise: str, *, quiet: bool = False) -> Review:
    """Grade what you made with Docker itself: the image your engine holds under your tag, and your files.

    The terminal path: in ``work/yours/<exercise>/`` you type the book's commands (``docker build -t
    welcome:yours .``, or ``chmod +x build.sh`` and ``./build.sh``), then run this, or
    ``python -m labutils check <exercise>`` (exit 0 when every check holds). Nothing is built: an image made
    by the docker CLI, with or without BuildKit and with no label of labutils', is graded as it is.

    Args:
        exercise: ``normal-build``, ``builder-pattern``, ``multi-stage`` or ``activity``.
        quiet: print nothing (the review is returned either way).

    Returns:
        Review: ``state`` is ``not attempted`` (your files are missing), ``failed`` or ``passed``; kept in
        ``progress()``.

    Raises:
        LabError: there is no such exercise.

    Example:
        >>> lu.check("normal-build")
        ✔ one stage: a normal build compiles and runs in the same image
        ...
    """
    task = _task(exercise)
    folder = yours(exercise)
    say = (lambda *a: None) if quiet else print
    missing = tuple(n for n in task.write if not (folder / n).is_file())
    if missing:
        review = Review(exercise, folder, task.tag, written=False, missing=missing)
        say(f"– not attempted: {task.title}. Write {', '.join(missing)} in {shown(folder)}/, then in a terminal "
            f"there type:\n" + "\n".join(f"    {c}" for c in task.commands)
            + f"\nand check again: python -m labutils check {exercise}")
        progress.note(f"your turn: {exercise}", False, state=review.state)
        return review
    checks, _ = file_checks(task, folder, script_as_book=True)
    advice = tuple(_advice(folder, task))
    if backend().mode != "live":
        review = Review(exercise, folder, task.tag, True, tuple(checks), advice,
                        recorded=backend().describe()["label"] or "recorded mode")
        say(review)
        say(f"Recorded mode: no engine here holds your {task.tag}; the checks above read your files. Run the lab "
            "where a Docker Engine answers to grade the image.")
        progress.note(f"your turn: {exercise}", False, state="failed")
        return review
    if not image_exists(task.tag):
        how = " && ".join(c for c in task.commands if c.startswith(("docker build", "chmod", "./")))
        checks.append(Check(f"your engine holds {task.tag}", False,
                            f"build it: in a terminal, `cd {shown(folder)}` and type `{how}`"
                            + (" (your build.sh tags the runtime image welcome-runtime:yours)" if task.script
                               else "") + _offline_hint()))
    else:
        checks.append(Check(f"your engine holds {task.tag}", True))
        checks += _image_checks(task, folder, folder / task.graded, image_size(task.tag))
        checks += _left_by_your_commands(task, folder)
    review = Review(exercise, folder, task.tag, True, tuple(checks), advice,
                    recorded=backend().describe()["label"])
    say(review)
    progress.note(f"your turn: {exercise}", review.passed, state=review.state)
    return review


def file_checks(task: Task, folder: Path, *, script_as_book: bool = False) -> tuple[list[Check], list | None]:
    """What a reviewer reads in the files; the builder pattern's script steps too (None for one Dockerfile).

    ``script_as_book``: build.sh runs for real, so its steps are not graded by their text: where they differ
    from the book's, one passing check says what the book does.
    """
    checks: list[Check] = []
    if task.script:
        checks += base_check(read_stages(folder / task.builder_dockerfile), "golang", task.builder_dockerfile,
                             first=True)
        runtime = read_stages(folder / "Dockerfile")
        checks += base_check(runtime, task.final_base, "Dockerfile", also=task.also_final)
        checks += copy_checks(runtime, "Dockerfile", multi_stage=False)
        script, script_checks = script_steps(folder / task.script)
        if not script_as_book:
            return checks + script_checks, script
        pattern = [c for c in script_checks if not c.ok and not c.what.startswith("build.sh line")]
        checks.append(Check("build.sh is graded by what it does when it runs", True, note=book_does(pattern)))
        return checks, script
    found = read_stages(folder / "Dockerfile")
    checks += stage_count(found, task)
    if task.stages > 1:
        checks += base_check(found, "golang", "Dockerfile", first=True)
    checks += base_check(found, task.final_base, "Dockerfile", also=task.also_final)
    if task.stages > 1:
        checks += copy_checks(found, "Dockerfile", multi_stage=True)
    return checks, None


def _review_script_run(task: Task, folder: Path, checks: list[Check], advice: tuple[str, ...], quiet: bool) -> Review:
    """The builder pattern graded by running the learner's build.sh for real (the docker CLI), in a copy."""
    say = (lambda *a: None) if quiet else print
    recorded = backend().describe()["label"]
    outside = outside_paths(folder / task.script)
    if outside:
        review = Review(task.exercise, folder, task.tag, True, tuple(checks + outside), advice, recorded=recorded)
        say(f"Your {task.script} is not run: a line names a path outside its folder.")
        say(review)
        return review
    say(f"Running your {task.script} with the docker CLI, in a copy of {shown(folder)} (yours is unchanged):")
    before = {c["name"] for c in backend().all_containers()}
    ran = run_copy(folder, task.script)
    if not quiet:
        print(ran.output, end="")
    if ran.exit_code != 0:
        tail = "\n".join(ran.output.splitlines()[-6:])
        checks.append(Check(f"sh {task.script} runs to the end", False,
                            f"it stopped with exit code {ran.exit_code}; its last lines:\n{tail}"))
    else:
        checks.append(Check(f"sh {task.script} runs to the end", True))
    if not image_exists(task.tag):
        checks.append(Check(f"it builds {task.tag}", False,
                            f"no step of {task.script} tags {task.tag}: make its last build "
                            f"`docker image build -t {task.tag} .`"))
        review = Review(task.exercise, folder, task.tag, True, tuple(checks), advice, recorded=recorded)
        say(review)
        return review
    checks.append(Check(f"it builds {task.tag}", True))
    checks += _image_checks(task, folder, folder / task.graded, image_size(task.tag))
    left = sorted({c["name"] for c in backend().all_containers()} - before)
    checks.append(Check("build.sh leaves no container behind", not left,
                        "" if not left else f"it left {', '.join(left)}: add `docker container rm -f {left[0]}` "
                                            "after the copy (and remove it now: `docker container rm -f "
                                            f"{' '.join(left)}`)."))
    checks.append(Check("build.sh removes the binary it copied out", not ran.new_files,
                        "" if not ran.new_files else f"it left {', '.join(ran.new_files)} in the folder: end "
                                                     f"with `rm {ran.new_files[0]}`."))
    review = Review(task.exercise, folder, task.tag, True, tuple(checks), advice, recorded=recorded)
    say(review)
    return review


def _build_yours(task: Task, folder: Path, script: list | None, quiet: bool) -> BuildResult:
    """The learner's image: their script's steps (builder pattern), else one build of their Dockerfile."""
    if task.script:
        assert script is not None, "the builder pattern's script was read with its file checks"
        return run_steps(folder, script, lambda tag, last: task.tag if last else yours_tag(tag),
                         labels=_labels(task.exercise), quiet=quiet)
    return build(folder, task.tag, labels=_labels(task.exercise), quiet=quiet)


# --- the image ----------------------------------------------------------------------------

def _image_checks(task: Task, folder: Path, graded: Path, size: int) -> list[Check]:
    checks = []
    final = folder / "Dockerfile"
    entry = next((i for i in reversed(read_stages(final)[-1].instructions if read_stages(final) else ())
                  if i.name in ("ENTRYPOINT", "CMD")), None)
    where = f"line {entry.line} of Dockerfile (`{entry.name} {entry.value}`)" if entry else "Dockerfile (no ENTRYPOINT)"
    if task.serves:
        try:
            b = behaves(task.tag, task.exercise)
            ok, fix = b.ok, "" if b.ok else f"it answered {b.bodies}; serve the lab's main.go unchanged, and check {where}."
        except LabError as exc:
            ok, fix = False, _serve_fix(exc, graded, where)
        checks.append(Check("it serves /, /contact and /login with the lab's three headings", ok, fix))
    else:
        b = behaves(task.tag, task.exercise)
        out = b.output
        checks.append(Check("it prints the lab's welcome line", b.ok,
                            "" if b.ok or out is None else f"it exited {out.exit_code} and printed "
                            f"{(out.stdout + out.stderr)[:200]!r}; check {where} runs the program you built."))
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
            checks.append(Check("it runs the program it built, from a small final stage", True,
                                note=f"the lesson compares its last layer with {task.same_as}'s, which is not "
                                     "built yet: run notebook 02 (the builder pattern), then check again."))
        else:
            same = same_files(task.tag, task.same_as)
            checks.append(Check(f"its last layer holds the same files as {task.same_as} (the builder pattern's)"
                                if same else "it runs the program it built, from a small final stage", True,
                                note="" if same else
                                "correct; the book builds in `WORKDIR /myapp` with `go build -o welcome .` and copies with "
                                "`COPY --from=builder /myapp/welcome .` into `WORKDIR /myapp`: the same program at "
                                f"the same path, so its last layer is {task.same_as}'s, file for file."))
    return checks


def _nothing_left_by_labutils() -> Check:
    left = ps()
    return Check("no container left behind", left.empty,
                 "" if left.empty else f"remove {', '.join(left['name'])} (lu.clean() removes what labutils made).")


def _offline_hint() -> str:
    """Where the stand-ins are here but not under the lab's names, the one step that makes `FROM golang:1.15.6` work."""
    from labutils.bases import LAB_BASES, exists, standin_name
    unnamed = [ref for ref in LAB_BASES[:2] if not exists(ref) and (sub := standin_name(ref)) and exists(sub)]
    if not unnamed:
        return "."
    return (f". If the build said it cannot pull {unnamed[0]}: no registry answers here, and the offline stand-ins "
            "have names of their own. Once, in the terminal: `python -m labutils bases --book-names` gives them the "
            "lab's names, so the book's commands work as typed.")


def _expand(text: str, known: dict[str, str]) -> str:
    for name, value in known.items():
        text = text.replace("${" + name + "}", value).replace("$" + name, value)
    return text


def _left_by_your_commands(task: Task, folder: Path) -> list[Check]:
    """What the book's commands should not leave: a running server (the activity), build.sh's container and binary.

    A stopped container of ``docker run welcome:yours`` is no fault: the book's commands leave those too.
    """
    out = []
    every = backend().all_containers()
    if task.serves:
        running = [c["name"] for c in every if c["status"] == "running" and c["image"] == task.tag]
        out.append(Check(f"no {task.tag} server left running", not running,
                         "" if not running else f"stop it: `docker container stop {running[0]}` "
                                                "(`docker container ls` lists it)."))
    if task.script:
        steps = read_script(folder / task.script)
        known = {w[0].split("=", 1)[0]: w[0].split("=", 1)[1] for _, verb, w in steps
                 if verb == "other" and len(w) == 1 and "=" in w[0]}          # NAME=welcome-builder-container
        named = {os.path.expandvars(_expand(flag(args, "--name") or "", known))
                 for _, verb, args in steps if verb == "create"}
        left = sorted(c["name"] for c in every if c["name"] in named)
        out.append(Check("build.sh leaves no container behind", not left,
                         "" if not left else f"{left[0]} is still there: add `docker container rm -f {left[0]}` after "
                                             f"the copy in build.sh, and remove it now (`docker container rm -f "
                                             f"{left[0]}`)."))
        binaries = [p.name for p in folder.iterdir() if p.is_file() and p.name not in task.write + task.given]
        out.append(Check("build.sh removes the binary it copied out", not binaries,
                         "" if not binaries else f"{', '.join(binaries)} is still in {shown(folder)}: end build.sh "
                                                 f"with `rm {binaries[0]}`, and remove it now."))
    return out


def _serve_fix(exc: LabError, graded: Path, where: str) -> str:
    said = (exc.log_tail or exc.message).strip().splitlines()
    first = said[-1] if said else exc.message
    if "no such file or directory" in (exc.log_tail + exc.message):
        run_line = next((i for s in read_stages(graded)[:1] for i in s.instructions
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
        instructions = [i for s in read_stages(path) for i in s.instructions]
        if 0 < exc.step <= len(instructions):
            ins = instructions[exc.step - 1]
            if not exc.instruction or exc.instruction.split()[0].upper() == ins.name:
                return f"line {ins.line} of {path.name} (`{ins.name} {ins.value}`) failed: {said}"
    return f"step {exc.step} ({exc.instruction}) failed: {said}"


def _advice(folder: Path, task: Task) -> list[str]:
    from labutils.ops.lint import hadolint, lint
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
    return {**names.labels(), EXERCISE_LABEL: exercise}


def _task(exercise: str) -> Task:
    if exercise not in TASKS:
        raise InvalidArgument(f"There is no 'your turn' for {exercise!r}.", hint=f"use one of {sorted(TASKS)}.")
    return TASKS[exercise]


def _not_written(review: Review) -> str:
    task = TASKS[review.exercise]
    return (f"Your turn ({task.title}): write {', '.join(review.missing)} in {shown(review.folder)}/ "
            f"({', '.join(task.given)} is there for you), then run this cell again. Nothing of yours to grade yet; "
            "the notebook goes on with the lab's reference.")
