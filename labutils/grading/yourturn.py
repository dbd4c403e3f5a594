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
    copy_checks,
    read_stages,
    script_steps,
    stage_count,
    yours_tag,
)
from labutils.grading.script import run_steps
from labutils.ops.build import BuildResult, build
from labutils.ops.containers import ps
from labutils.ops.images import image_exists, same_files
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
                  f"({', '.join(self.missing)} missing in {shown(self.folder)}); the lab's reference passed above.")
            return
        progress.note(f"your turn: {self.exercise}", self.passed)
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
    checks, script = file_checks(task, folder)
    advice = tuple(_advice(folder, task))
    recorded = backend().describe()["label"]
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
    checks += _image_checks(task, folder, graded, result)
    review = Review(exercise, folder, task.tag, True, tuple(checks), advice, result=result, recorded=recorded)
    say(review)
    return review


def file_checks(task: Task, folder: Path) -> tuple[list[Check], list | None]:
    """What a reviewer reads in the files; the builder pattern's script steps too (None for one Dockerfile)."""
    checks: list[Check] = []
    if task.script:
        checks += base_check(read_stages(folder / task.builder_dockerfile), "golang", task.builder_dockerfile,
                             first=True)
        runtime = read_stages(folder / "Dockerfile")
        checks += base_check(runtime, task.final_base, "Dockerfile")
        checks += copy_checks(runtime, "Dockerfile", multi_stage=False)
        script, script_checks = script_steps(folder / task.script)
        return checks + script_checks, script
    found = read_stages(folder / "Dockerfile")
    checks += stage_count(found, task)
    if task.stages > 1:
        checks += base_check(found, "golang", "Dockerfile", first=True)
    checks += base_check(found, task.final_base, "Dockerfile")
    if task.stages > 1:
        checks += copy_checks(found, "Dockerfile", multi_stage=True)
    return checks, None


def _build_yours(task: Task, folder: Path, script: list | None, quiet: bool) -> BuildResult:
    """The learner's image: their script's steps (builder pattern), else one build of their Dockerfile."""
    if task.script:
        assert script is not None, "the builder pattern's script was read with its file checks"
        return run_steps(folder, script, lambda tag, last: task.tag if last else yours_tag(tag),
                         labels=_labels(task.exercise), quiet=quiet)
    return build(folder, task.tag, labels=_labels(task.exercise), quiet=quiet)


# --- the image ----------------------------------------------------------------------------

def _image_checks(task: Task, folder: Path, graded: Path, result: BuildResult) -> list[Check]:
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
