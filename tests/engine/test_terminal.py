"""The terminal path: a learner types the book's commands in a shell with the docker CLI, then
`python -m labutils check EXERCISE` grades what the engine holds.

Each exercise, as a learner meets it: checked before writing anything (not attempted, and kept so), with a wrong
file (exit 1, the line named), then with the right files typed through the book's commands (exit 0). The stand-ins
answer to the lab's names for this module only (`bases --book-names`, taken back at the end), so that
`FROM golang:1.15.6` works as typed; the images the shell made (`welcome:yours`, ...) are removed after.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from shared import EXERCISES
from yours import RIGHT, TOLD, WRONG, write_files

import labutils as lu
from labutils.grading.checks import TASKS

pytestmark = pytest.mark.engine

# the learner's tags: the book's commands with `yours` where the book says v1
TYPED = {
    "normal-build": ["docker build -t welcome:yours .", "docker run welcome:yours", "docker image ls welcome"],
    "builder-pattern": ["chmod +x build.sh", "./build.sh", "docker run welcome-runtime:yours",
                        "docker image ls welcome-runtime"],
    "multi-stage": ["docker build -t welcome-optimized:yours .", "docker run welcome-optimized:yours",
                    "docker image ls welcome-optimized"],
    "activity": ["docker build -t activity:yours .", "docker run -d -p {port}:8080 activity:yours"],
}
MADE = ["welcome:yours", "welcome-builder:yours", "welcome-runtime:yours", "welcome-optimized:yours",
        "activity:yours"]


def _labutils(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labutils", *args], env=env, capture_output=True, text=True,
                          timeout=900)


def _shell(commands: list[str], folder, env) -> subprocess.CompletedProcess:
    """The commands typed one after the other in a shell, in the learner's folder (as a terminal runs them)."""
    return subprocess.run(["sh", "-c", " && ".join(commands)], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=900)


def _port() -> str:
    """The book's 8080 where it is free on this machine; else loopback and a port the engine picks."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", 8080))
            return "8080"
        except OSError:
            return "127.0.0.1:"


@pytest.fixture(scope="module")
def shell_env(live, tmp_path_factory):
    """The learner's environment: their own engine, the docker CLI, the stand-ins under the lab's names."""
    env = dict(os.environ, LABUTILS_WORK=str(tmp_path_factory.mktemp("learner") / "work"),
               LABUTILS_NOTEBOOK="terminal")
    env.pop("LABUTILS_NAMESPACE", None)
    _remove_what_the_shell_made(env)
    named = _labutils("bases", "--book-names", env=env)
    assert named.returncode == 0, named.stdout + named.stderr
    yield env
    _remove_what_the_shell_made(env)
    back = _labutils("bases", "--no-book-names", env=env)
    assert back.returncode == 0, back.stdout + back.stderr


def _remove_what_the_shell_made(env) -> None:
    """The learner's containers (the book's `docker run` keeps them; a server left running) and images."""
    every = subprocess.run(["docker", "ps", "-aq"], env=env, capture_output=True, text=True).stdout.split()
    # the image as the container was made from it (`docker ps` shows an ID once the tag moved to a rebuilt image)
    made = subprocess.run(["docker", "inspect", "-f", "{{.ID}} {{.Config.Image}}", *every], env=env,
                          capture_output=True, text=True).stdout.splitlines() if every else []
    ids = [row.split()[0] for row in made if row.split()[-1] in MADE]
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], env=env, capture_output=True)
    subprocess.run(["docker", "image", "rm", "-f", *MADE], env=env, capture_output=True)


def _yours(env, exercise) -> Path:
    return Path(env["LABUTILS_WORK"]) / "yours" / exercise


def _progress(env, exercise) -> dict:
    data = json.loads((Path(env["LABUTILS_WORK"]) / "progress.json").read_text())
    return data["terminal"][f"your turn: {exercise}"]


@pytest.mark.parametrize("exercise", ["normal-build", "builder-pattern", "multi-stage", "activity"])
def test_the_books_commands_typed_then_checked(exercise, shell_env):
    env = shell_env
    skipped = _labutils("check", exercise, env=env)
    assert skipped.returncode == 1 and "not attempted" in skipped.stdout, skipped.stdout + skipped.stderr
    assert _progress(env, exercise)["state"] == "not attempted"

    folder = _yours(env, exercise)
    port = _port()
    typed = [c.format(port=port) for c in TYPED[exercise]]
    wrong = {n: t.replace(":v1", ":yours") for n, t in WRONG[exercise].items()}
    write_files(folder, wrong)
    _shell(typed[:2] if exercise != "activity" else typed[:1], folder, env)   # a wrong file may not even build
    failed = _labutils("check", exercise, env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    for told in TOLD[exercise]:
        assert told in failed.stdout, (told, failed.stdout)
    assert _progress(env, exercise)["state"] == "failed"
    subprocess.run(["docker", "container", "rm", "-f", "welcome-builder-container"], env=env, capture_output=True)
    (folder / "welcome").unlink(missing_ok=True)

    right = {n: t.replace(":v1", ":yours") for n, t in RIGHT[exercise].items()}
    write_files(folder, right)
    done = _shell(typed, folder, env)
    assert done.returncode == 0, done.stdout + done.stderr
    if exercise == "activity":                     # the server runs: the check says to stop it, then passes
        running = _labutils("check", exercise, env=env)
        assert running.returncode == 1 and "docker container stop" in running.stdout, running.stdout
        container = done.stdout.strip().splitlines()[-1]
        stopped = _shell([f"docker container stop {container}", f"docker container rm {container}"], folder, env)
        assert stopped.returncode == 0, stopped.stderr
    else:
        assert "Welcome to multi-stage Docker builds" in done.stdout
    passed = _labutils("check", exercise, env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "✘" not in passed.stdout and f"your engine holds {TASKS[exercise].tag}" in passed.stdout
    assert _progress(env, exercise)["state"] == "passed"
    for name, text in right.items():              # the learner's files are as they wrote them
        assert (folder / name).read_text() == text


def test_a_correct_variant_passes_saying_what_the_book_does(shell_env, tmp_path):
    """4.03 with the binary at /welcome: not the builder pattern's layer, but correct."""
    if not lu.image_exists("welcome-runtime:v1"):           # the reference the lesson compares with (notebook 02)
        lab = lu.write_exercise("builder-pattern", show=False)
        lu.build(lab, "welcome-builder:v1", dockerfile="Dockerfile.build", quiet=True)
        lu.copy_out("welcome-builder:v1", "/myapp/welcome", lab)
        lu.build(lab, "welcome-runtime:v1", quiet=True)
    folder = _yours(shell_env, "multi-stage")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "welcome.go").write_text((EXERCISES / "multi-stage" / "welcome.go").read_text())
    (folder / "Dockerfile").write_text("FROM golang:1.15.6 AS build\nWORKDIR /src\nCOPY welcome.go .\n"
                                       "RUN go build -o /welcome welcome.go\nFROM scratch\n"
                                       "COPY --from=build /welcome /welcome\nENTRYPOINT [\"/welcome\"]\n")
    built = _shell(["docker build -t welcome-optimized:yours ."], folder, shell_env)
    assert built.returncode == 0, built.stderr
    passed = _labutils("check", "multi-stage", env=shell_env)
    assert passed.returncode == 0, passed.stdout
    assert "correct; the book" in passed.stdout


VARIANT = """#!/bin/sh
set -e
NAME=welcome-builder-container
docker build -t welcome-builder:yours \\
  -f ./Dockerfile.build .
docker create --name "$NAME" welcome-builder:yours
docker cp "$NAME":/myapp/welcome .
docker rm -f "$NAME"
docker build -t welcome-runtime:yours .
rm welcome
"""


def test_your_turn_runs_your_own_build_sh_for_real_in_a_copy(shell_env, monkeypatch, capsys):
    """A build.sh in another shell style (a variable, a continuation, docker's short verbs) runs and passes; the
    one that leaves its container and binary fails naming both; the learner's folder is never changed."""
    for key in ("LABUTILS_WORK", "LABUTILS_NOTEBOOK"):
        monkeypatch.setenv(key, shell_env[key])
    folder = _yours(shell_env, "builder-pattern")
    folder.mkdir(parents=True, exist_ok=True)
    write_files(folder, {**{n: t for n, t in RIGHT["builder-pattern"].items() if n != "build.sh"},
                         "build.sh": VARIANT,
                         "welcome.go": (EXERCISES / "builder-pattern" / "welcome.go").read_text()})
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    review = lu.your_turn("builder-pattern")
    out = capsys.readouterr().out
    assert review.passed, str(review)
    assert "Running your build.sh with the docker CLI" in out and "sh build.sh runs to the end" in out
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, "the learner's folder is unchanged"

    write_files(folder, {"build.sh": WRONG["builder-pattern"]["build.sh"].replace(":v1", ":yours")})
    try:
        review = lu.your_turn("builder-pattern", quiet=True)
        told = " | ".join(c.fix for c in review.failed)
        assert not review.passed and "welcome-builder-container" in told and "rm welcome" in told, told
    finally:
        subprocess.run(["docker", "container", "rm", "-f", "welcome-builder-container"], env=shell_env,
                       capture_output=True)
