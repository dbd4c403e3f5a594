"""'Your turn': each exercise graded with a wrong file and a right one; progress; the instructor's class view.

The engine tests run in namespaces of their own, so the learner's and the other tests' images are untouched, and
remove what they built.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from shared import EXERCISES, ROOT

import labutils as lu
from labutils import errors, names
from labutils.classroom import shared_engine
from labutils.course import approaches, progress
from labutils.grading import checks, yourturn
from labutils.ops import images

NS = "lutest-yours"
WRONG = {
    # 4.01: a multi-stage file where a normal build is asked for
    "normal-build": {"Dockerfile": (EXERCISES / "multi-stage" / "Dockerfile").read_text()},
    # 4.02: the runtime image copies the whole folder onto alpine; the script leaves its container and binary
    "builder-pattern": {
        "Dockerfile.build": (EXERCISES / "builder-pattern" / "Dockerfile.build").read_text(),
        "Dockerfile": "FROM alpine:latest\nWORKDIR /myapp\nCOPY . .\nENTRYPOINT [\"./welcome\"]\n",
        "build.sh": (EXERCISES / "builder-pattern" / "build.sh").read_text()
        .replace("docker container rm -f welcome-builder-container\n", "").replace("rm welcome\n", ""),
    },
    # 4.03: the final stage is the Go image again, and copies the build context
    "multi-stage": {"Dockerfile": "FROM golang:1.15.6 AS builder\nWORKDIR /myapp\nCOPY welcome.go .\n"
                                  "RUN go build -o welcome .\nFROM golang:1.15.6\nWORKDIR /myapp\nCOPY . .\n"
                                  "COPY --from=builder /myapp/welcome .\nENTRYPOINT [\"./welcome\"]\n"},
    # the activity: the literal first try, glibc-linked on alpine
    "activity": {"Dockerfile": (EXERCISES / "activity" / "Dockerfile.first-try").read_text()},
}
RIGHT = {
    "normal-build": {"Dockerfile": (EXERCISES / "normal-build" / "Dockerfile").read_text()},
    "builder-pattern": {n: (EXERCISES / "builder-pattern" / n).read_text()
                        for n in ("Dockerfile.build", "Dockerfile", "build.sh")},
    "multi-stage": {"Dockerfile": (EXERCISES / "multi-stage" / "Dockerfile").read_text()},
    "activity": {"Dockerfile": (EXERCISES / "activity" / "Dockerfile.solution").read_text()},
}
# what each wrong file must be told, naming the line where there is one
TOLD = {
    "normal-build": ["one stage: a normal build", "lines 1, 5", "line 5 of Dockerfile says `FROM scratch`",
                     "ships the whole Go toolchain"],
    "builder-pattern": ["line 1 of Dockerfile says `FROM alpine:latest`", "line 3 of Dockerfile (`COPY . .`)",
                        "docker container rm -f welcome-builder-container", "rm welcome"],
    "multi-stage": ["line 5 of Dockerfile says `FROM golang:1.15.6`", "line 7 of Dockerfile (`COPY . .`)",
                    "a small image"],
    "activity": ["exec ./main: no such file or directory", "line 5 (`RUN go build -o main .`)", "CGO_ENABLED=0"],
}


def _write(folder, files):
    for name, text in files.items():
        (folder / name).write_text(text)


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path / "work"))
    monkeypatch.setenv("LABUTILS_NOTEBOOK", "test-notebook")
    return tmp_path / "work"


# --- without an engine ----------------------------------------------------------------------

def test_nothing_written_says_so_and_passes(work, capsys):
    review = lu.your_turn("multi-stage")
    assert not review.written and review.missing == ("Dockerfile",)
    assert (work / "yours" / "multi-stage" / "welcome.go").is_file(), "the lab's source is put there for the learner"
    assert not (work / "yours" / "multi-stage" / "Dockerfile").exists(), "never the file the learner writes"
    assert "write Dockerfile in" in capsys.readouterr().out
    review.checkpoint()
    assert "nothing of yours to grade yet" in capsys.readouterr().out


def test_an_unknown_exercise_names_the_ones_there_are(work):
    with pytest.raises(lu.LabError, match="activity"):
        lu.your_turn("exercise-9")


@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_the_file_checks_name_the_lines(exercise, tmp_path):
    """The checks made from the files alone (no engine) fail on the wrong file, naming its lines, and pass the right."""
    def static(files):
        folder = tmp_path / exercise
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        _write(folder, files)
        task = yourturn.TASKS[exercise]
        if exercise == "builder-pattern":
            runtime = checks.read_stages(folder / "Dockerfile")
            return (checks.base_check(checks.read_stages(folder / "Dockerfile.build"), "golang", "Dockerfile.build",
                                         first=True) + checks.base_check(runtime, "scratch", "Dockerfile")
                    + checks.copy_checks(runtime, "Dockerfile", multi_stage=False)
                    + checks.script_steps(folder / "build.sh")[1])
        stages = checks.read_stages(folder / "Dockerfile")
        found = checks.stage_count(stages, task) + checks.base_check(stages, task.final_base, "Dockerfile")
        if task.stages > 1:
            found += checks.copy_checks(stages, "Dockerfile", multi_stage=True)
        return found

    assert all(c.ok for c in static(RIGHT[exercise])), [str(c) for c in static(RIGHT[exercise]) if not c.ok]
    wrong = static(WRONG[exercise])
    if exercise != "activity":          # the first try's files are right; its binary is not
        assert any(not c.ok and "line " in c.fix for c in wrong), [str(c) for c in wrong]


def test_a_script_line_that_is_no_step_is_named(tmp_path):
    script = tmp_path / "build.sh"
    script.write_text((EXERCISES / "builder-pattern" / "build.sh").read_text() + "curl example.com\n")
    _, found = checks.script_steps(script)
    bad = [c for c in found if not c.ok]
    assert len(bad) == 1 and "line 10" in bad[0].fix and "curl example.com" in bad[0].fix


def test_progress_keeps_the_latest_outcome_per_checkpoint(work):
    assert lu.progress().empty
    lu.checkpoint(True, passed="the image is small: 2.03 MB", fix="-")
    with pytest.raises(errors.CheckpointFailed):
        lu.checkpoint(False, passed="it prints the welcome line", fix="rebuild")
    lu.checkpoint(True, passed="the image is small: 2.10 MB", fix="-")     # the same checkpoint, run again
    df = lu.progress()
    assert list(df.columns) == progress.COLUMNS
    assert dict(zip(df["checkpoint"], df["passed"], strict=True)) == {"the image is small": True, "it prints the welcome line": False}
    assert set(df["notebook"]) == {"test-notebook"}
    assert df.attrs["per_notebook"] == {"test-notebook": "1/2"}
    assert (work / "progress.json").is_file()


def test_the_class_grid_prefers_the_learners_own_image():
    rows = []
    for learner, yours_works, ref in (("ann", True, True), ("ben", False, True), ("cy", None, True), ("di", None, None)):
        for whose, works in (("reference", ref), ("yours", yours_works)):
            rows.append({"learner": learner, "exercise": "multi-stage", "whose": whose, "image": "x",
                         "exists": works is not None, "works": works})
    grid = shared_engine.grid(pd.DataFrame(rows))
    assert grid["multi-stage"].to_dict() == {"ann": "yours works", "ben": "fails", "cy": "reference works",
                                              "di": "not built"}
    assert grid.loc["ann", "activity"] == "not built"


# --- on the engine ----------------------------------------------------------------------------

@pytest.fixture
def learner(work, monkeypatch, live):
    monkeypatch.setenv("LABUTILS_NAMESPACE", NS)
    yield work
    lu.clean()


@pytest.mark.engine
@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_your_turn_grades_a_wrong_file_and_a_right_one(exercise, learner):
    folder = yourturn.yours(exercise)
    if exercise == "multi-stage":        # the lesson compares with the builder pattern's image
        approaches.build_approach(approaches.approach("builder pattern"))
    _write(folder, WRONG[exercise])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    wrong = lu.your_turn(exercise, quiet=True)
    assert wrong.written and not wrong.passed
    told = "\n".join(f"{c.what}: {c.fix}" for c in wrong.failed)
    for words in TOLD[exercise]:
        assert words in told, f"{words!r} not in:\n{told}"
    with pytest.raises(errors.CheckpointFailed) as failed:
        wrong.checkpoint()
    assert all(c.what in str(failed.value) for c in wrong.failed)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, "the learner's files are unchanged"

    _write(folder, RIGHT[exercise])
    right = lu.your_turn(exercise, quiet=True)
    assert right.passed, str(right)
    assert lu.image_exists(yourturn.TASKS[exercise].tag)
    assert images.inspect(yourturn.TASKS[exercise].tag)["labels"][yourturn.EXERCISE_LABEL] == exercise
    right.checkpoint()
    assert lu.ps().empty
    assert sorted(p.name for p in folder.iterdir()) == sorted(before), "no binary or other file left in the folder"
    assert dict(zip(lu.progress()["checkpoint"], lu.progress()["passed"], strict=True))[f"your turn: {exercise}"] is True


@pytest.mark.engine
def test_a_build_that_fails_names_the_line(learner):
    folder = yourturn.yours("normal-build")
    (folder / "Dockerfile").write_text("FROM golang:1.15.6\nWORKDIR /myapp\nCOPY welcome.go .\n"
                                       "RUN go build -o welcome ./missing\nENTRYPOINT [\"./welcome\"]\n")
    review = lu.your_turn("normal-build", quiet=True)
    assert [c.what for c in review.failed] == ["it builds"]
    assert "line 4 of Dockerfile (`RUN go build -o welcome ./missing`) failed" in review.failed[0].fix


@pytest.mark.engine
def test_class_view_over_several_namespaces(live, tmp_path):
    """Three learners on one engine: one right, one wrong, one with only the reference; the view sees each."""
    learners = {"lutest-ann": RIGHT["multi-stage"], "lutest-ben": {"Dockerfile": RIGHT["multi-stage"]["Dockerfile"]
                                                                   .replace('["./welcome"]', '["./welcom"]')},
                "lutest-cy": None}
    env = dict(os.environ)
    try:
        for ns, files in learners.items():
            os.environ.update(LABUTILS_NAMESPACE=ns, LABUTILS_WORK=str(tmp_path / ns))
            lu.build(lu.write_exercise("multi-stage", show=False), "welcome-optimized:v1", quiet=True)
            if files:
                _write(yourturn.yours("multi-stage"), files)
                lu.your_turn("multi-stage", quiet=True)
        os.environ.clear()
        os.environ.update(env)
        empty = tmp_path / "instructor"      # the view reads the engine, not anyone's work/
        proc = subprocess.run([sys.executable, "-m", "labutils", "class", "--figure", str(tmp_path / "class.png")],
                              cwd=ROOT, env={**env, "LABUTILS_WORK": str(empty)}, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        view = shared_engine.class_view()
        mine = view[view["learner"].isin(learners)]
        grid = shared_engine.grid(mine)
        assert grid["multi-stage"].to_dict() == {"lutest-ann": "yours works", "lutest-ben": "fails",
                                                  "lutest-cy": "reference works"}
        assert set(grid.loc["lutest-cy"].drop("multi-stage")) == {"not built"}
        ben = mine[(mine["learner"] == "lutest-ben") & (mine["whose"] == "yours") & (mine["exercise"] == "multi-stage")].iloc[0]
        assert (bool(ben["exists"]), ben["works"], ben["size_bytes"] < 10e6, bool(ben["built"])) == (True, False, True, True), ben.to_dict()
        for ns in learners:
            assert ns in proc.stdout
        assert (tmp_path / "class.png").stat().st_size > 10_000
        assert not empty.exists() or not any(empty.rglob("*.json")), "nothing of a learner's is read or written"
        left = [c for c in live.containers.list(all=True, filters={"label": names.LABEL})
                if c.labels.get(names.NAMESPACE_LABEL, "") in learners]
        assert not left, "the view removes every container it ran"
    finally:
        os.environ.clear()
        os.environ.update(env)
        for ns in learners:
            os.environ["LABUTILS_NAMESPACE"] = ns
            lu.clean()
        os.environ.clear()
        os.environ.update(env)
