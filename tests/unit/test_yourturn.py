"""'Your turn': each exercise graded with a wrong file and a right one; progress; the instructor's class view.

The engine tests run in namespaces of their own, so the learner's and the other tests' images are untouched, and
remove what they built.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from shared import EXERCISES
from yours import RIGHT, TOLD, WRONG, write_files

import labutils as lu
from labutils import errors
from labutils.classroom import shared_engine
from labutils.course import progress
from labutils.grading import checks, yourturn

NS = "lutest-yours"


def test_nothing_written_is_not_attempted_and_kept_so(work, capsys):
    review = lu.your_turn("multi-stage")
    assert not review.written and review.missing == ("Dockerfile",) and review.state == "not attempted"
    assert (work / "yours" / "multi-stage" / "welcome.go").is_file(), "the lab's source is put there for the learner"
    assert not (work / "yours" / "multi-stage" / "Dockerfile").exists(), "never the file the learner writes"
    assert "write Dockerfile in" in capsys.readouterr().out
    review.checkpoint()                       # the notebook goes on ...
    assert "not attempted" in capsys.readouterr().out
    df = lu.progress()                        # ... and the task skipped is seen
    row = df[df["checkpoint"] == "your turn: multi-stage"].iloc[0]
    assert row["state"] == "not attempted" and not row["passed"]
    assert df.attrs["per_notebook"] == {"test-notebook": "0/1 (1 not attempted)"}


def test_check_with_nothing_written_says_what_to_type(work, capsys):
    review = lu.check("builder-pattern")
    out = capsys.readouterr().out
    assert review.state == "not attempted" and not review.passed
    assert "chmod +x build.sh" in out and "./build.sh" in out and "python -m labutils check builder-pattern" in out
    assert lu.progress()["state"].tolist() == ["not attempted"]


def test_a_script_that_goes_on_over_lines_is_read_whole(tmp_path):
    script = tmp_path / "build.sh"
    script.write_text("docker image build -t welcome-builder:yours \\\n  -f ./Dockerfile.build .\necho done\n")
    assert checks.read_script(script) == [(1, "build", ["-t", "welcome-builder:yours", "-f", "./Dockerfile.build", "."])]
    _, found = checks.script_steps(script)
    assert next(c for c in found if "from Dockerfile.build" in c.what).ok, "./Dockerfile.build is Dockerfile.build"


def test_another_correct_final_base_passes_saying_what_the_book_does(tmp_path):
    df = tmp_path / "Dockerfile"
    df.write_text("FROM golang:1.15.6 AS builder\nRUN true\nFROM scratch\nCOPY --from=builder /main .\n")
    task = checks.TASKS["activity"]
    found = checks.base_check(checks.read_stages(df), task.final_base, "Dockerfile", also=task.also_final)
    assert found[0].ok and "the book's starts FROM alpine:latest" in str(found[0]) and "line 3" in str(found[0])
    assert not checks.base_check(checks.read_stages(df), task.final_base, "Dockerfile")[0].ok, "only with also="


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
        write_files(folder, files)
        return yourturn.file_checks(yourturn.TASKS[exercise], folder)[0]

    assert all(c.ok for c in static(RIGHT[exercise])), [str(c) for c in static(RIGHT[exercise]) if not c.ok]
    wrong = static(WRONG[exercise])
    if exercise != "activity":          # the first try's files are right; its binary is not
        told = " | ".join(str(c) for c in wrong if not c.ok)
        named = [t for t in TOLD[exercise] if t.startswith("line ")]
        assert named and all(t in told for t in named), (named, told)


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
    assert df["state"].tolist() == ["failed", "passed"] or sorted(df["state"]) == ["failed", "passed"]
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


