"""'Your turn': each exercise graded with a wrong file and a right one; progress; the instructor's class view.

The engine tests run in namespaces of their own, so the learner's and the other tests' images are untouched, and
remove what they built.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from shared import ROOT
from yours import RIGHT, TOLD, WRONG, write_files

import labutils as lu
from labutils import errors, names
from labutils.classroom import shared_engine
from labutils.course import approaches
from labutils.grading import yourturn
from labutils.ops import images


@pytest.mark.engine
@pytest.mark.one_engine
@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_your_turn_grades_a_wrong_file_and_a_right_one(exercise, learner):
    folder = yourturn.yours(exercise)
    if exercise == "multi-stage":        # the lesson compares with the builder pattern's image
        approaches.build_approach(approaches.approach("builder pattern"))
    write_files(folder, WRONG[exercise])
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

    write_files(folder, RIGHT[exercise])
    right = lu.your_turn(exercise, quiet=True)
    assert right.passed, str(right)
    assert lu.image_exists(yourturn.TASKS[exercise].tag)
    assert images.inspect(yourturn.TASKS[exercise].tag)["labels"][yourturn.EXERCISE_LABEL] == exercise
    right.checkpoint()
    assert lu.ps().empty
    assert sorted(p.name for p in folder.iterdir()) == sorted(before), "no binary or other file left in the folder"
    assert dict(zip(lu.progress()["checkpoint"], lu.progress()["passed"], strict=True))[f"your turn: {exercise}"] is True


@pytest.mark.engine
@pytest.mark.one_engine
def test_a_build_that_fails_names_the_line(learner):
    folder = yourturn.yours("normal-build")
    (folder / "Dockerfile").write_text("FROM golang:1.15.6\nWORKDIR /myapp\nCOPY welcome.go .\n"
                                       "RUN go build -o welcome ./missing\nENTRYPOINT [\"./welcome\"]\n")
    review = lu.your_turn("normal-build", quiet=True)
    assert [c.what for c in review.failed] == ["it builds"]
    assert "line 4 of Dockerfile (`RUN go build -o welcome ./missing`) failed" in review.failed[0].fix


@pytest.mark.engine
@pytest.mark.one_engine
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
                write_files(yourturn.yours("multi-stage"), files)
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
