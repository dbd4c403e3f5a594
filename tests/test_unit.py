"""Pure unit tests: no engine."""
from __future__ import annotations

import json

import pytest

import labutils as lu
from labutils import bases, engine
from labutils.build import _StepClock, _hint


@pytest.mark.parametrize("size, shown", [
    (805_000_000, "805MB"), (2_030_000, "2.03MB"), (7_600_000, "7.6MB"),
    (1_819_300, "1.82MB"), (999, "999B"), (13_100_000, "13.1MB"), (1_090_000_000, "1.09GB")])
def test_human_size_matches_docker(size, shown):
    assert lu.human_size(size) == shown


@pytest.mark.parametrize("ref, repo, tag", [
    ("golang:1.15.6", "golang", "1.15.6"), ("alpine", "alpine", "latest"),
    ("localhost:5000/team/app", "localhost:5000/team/app", "latest"),
    ("docker.io/library/golang:1.22-alpine", "docker.io/library/golang", "1.22-alpine")])
def test_split_ref(ref, repo, tag):
    assert bases.split_ref(ref) == (repo, tag)


def test_standins_never_take_official_names():
    for official, sub in bases.STANDINS.items():
        assert bases.repository_name(sub) != official
    assert bases.standin_for("docker.io/library/golang:1.15.6") == bases.GOLANG
    assert bases.standin_for("alpine:latest") == bases.BUSYBOX
    assert bases.standin_for("node:20") is None


def test_step_clock_splits_and_times_steps():
    clock = _StepClock()
    for t, line in enumerate(["Step 1/3 : FROM golang:1.15.6", " ---> abc",
                              "Step 2/3 : COPY welcome.go .", " ---> Using cache", " ---> def",
                              "Step 3/3 : RUN go build -o welcome .", " ---> Running in 123"]):
        clock.line(line, float(t))
    assert clock.failing()["instruction"] == "RUN go build -o welcome ."
    clock.close(10.0)
    assert [(s.number, s.cached, s.seconds) for s in clock.steps] == [(1, False, 2.0), (2, True, 3.0),
                                                                     (3, False, 5.0)]


def test_hints_name_the_fix():
    assert "Go compile" in _hint("The command '/bin/sh -c go build' returned a non-zero code: 1", None)
    assert ".dockerignore" in _hint("COPY failed: file not found in build context", None)
    assert "stage" in _hint("failed to reach build target nope in Dockerfile", "nope")


def test_error_message_carries_everything():
    err = lu.BuildFailed("Building x failed at step 4/5: RUN go build", command="docker build -t x .",
                         exit_code=1, log_tail="./welcome.go:4:5: undefined: fmt.Printn",
                         engine_said="returned a non-zero code: 1", hint="fix it")
    text = str(err)
    for part in ("step 4/5", "docker build -t x .", "undefined: fmt.Printn", "non-zero", "fix it"):
        assert part in text
    assert isinstance(err, lu.LabError)


def test_engine_url_honours_docker_host_then_context(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert engine.engine_url() == "tcp://127.0.0.1:2375"
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "class"}))
    from docker.context import Context
    ctx = Context("class", host="unix:///tmp/class.sock")
    monkeypatch.setattr("docker.context.ContextAPI.get_context", lambda name=None: ctx if name == "class" else None)
    assert engine.engine_url().endswith("unix:///tmp/class.sock")
    monkeypatch.setenv("DOCKER_CONTEXT", "missing")
    with pytest.raises(lu.EngineUnavailable, match="docker context"):
        engine.engine_url()


def test_recorded_mode_never_makes_a_client(monkeypatch):
    monkeypatch.setenv("LABUTILS_MODE", "recorded")
    with pytest.raises(lu.EngineUnavailable, match="recorded"):
        engine.client()
    monkeypatch.setenv("LABUTILS_MODE", "sideways")
    with pytest.raises(lu.EngineUnavailable, match="not a mode"):
        engine.mode()


def test_prepare_rewrites_a_copy_with_a_parser(monkeypatch, tmp_path):
    """Beside the real-engine test: resolution is replaced so only the rewrite is tested."""
    def fake_resolve(ref, quiet=False):
        sub = bases.standin_for(ref)
        return bases.Resolution(ref, sub, "stand-in") if sub else bases.Resolution(ref, ref, "local")
    monkeypatch.setattr(bases, "resolve", fake_resolve)
    text = ("ARG GO=golang:1.15.6\n"
            "FROM ${GO} AS builder\nRUN echo build\n"
            "FROM builder AS test\nRUN echo test\n"
            "FROM alpine:latest\nCOPY --from=builder /a /a\nCOPY --from=alpine:latest /etc/passwd /p\n")
    df = tmp_path / "Dockerfile"
    df.write_text(text)
    prepared = bases.prepare(df)
    try:
        out = prepared.path.read_text()
        assert prepared.substitutions == {"golang:1.15.6": bases.GOLANG, "alpine:latest": bases.BUSYBOX}
        assert f"FROM {bases.GOLANG} AS builder" in out
        assert "FROM builder AS test" in out
        assert f"FROM {bases.BUSYBOX}\n" in out
        assert f"COPY --from={bases.BUSYBOX} /etc/passwd /p" in out
        assert "COPY --from=builder /a /a" in out
        assert prepared.stages == ["builder", "test", None]
    finally:
        prepared.cleanup()
    assert df.read_text() == text
    assert not prepared.path.exists()


def test_namespace_names_and_ownership(monkeypatch):
    monkeypatch.delenv("LABUTILS_NAMESPACE", raising=False)
    assert engine.ref("welcome:v1") == "welcome:v1" and engine.labels() == {engine.LABEL: "true"}
    assert engine.mine({engine.LABEL: "true"}) and not engine.mine({engine.LABEL: "true", engine.NAMESPACE_LABEL: "bob"})
    monkeypatch.setenv("LABUTILS_NAMESPACE", "alice")
    assert engine.ref("welcome:v1") == "alice/welcome:v1" == engine.ref("alice/welcome:v1")
    assert engine.plain("alice/welcome:v1") == "welcome:v1" and engine.plain("golang:1.15.6") == "golang:1.15.6"
    assert engine.labels()[engine.NAMESPACE_LABEL] == "alice"
    assert engine.mine({engine.LABEL: "true", engine.NAMESPACE_LABEL: "alice"})
    assert not engine.mine({engine.LABEL: "true"}) and not engine.mine({engine.NAMESPACE_LABEL: "alice"})
    monkeypatch.setenv("LABUTILS_NAMESPACE", "Alice Smith")
    with pytest.raises(lu.EngineUnavailable, match="cannot prefix"):
        engine.namespace()


PLAIN_PROGRESS = """#5 [runtime 1/3] FROM docker.io/library/labutils-busybox:bookworm
#5 DONE 0.0s
#7 [builder 1/4] FROM docker.io/library/labutils-golang:bookworm
#7 DONE 0.0s
#9 [internal] load build context
#9 transferring context: 113B done
#9 DONE 0.0s
#10 [builder 3/4] COPY helloworld.go .
#10 CACHED
#11 [builder 4/4] RUN go build -o helloworld .
#11 sha256:d9666d7e2197c06c6fb7ec73580e17450273f142ce3a6e2eca1b1ee7db93dd4d
#11 0.321 compiling
#11 DONE 0.4s
#12 [2/2] RUN exit 3
#12 ERROR: executor failed running [/bin/sh -c exit 3]: exit code: 3
#13 writing image sha256:470d5446775fda9485b625e1f218de595f3a9a178c8dd670f1f03df9e7a8ed7c done"""


def test_buildkit_plain_progress_becomes_steps():
    """Beside the real BuildKit tests: the parser alone, on output captured from Docker 20.10."""
    from labutils.build import _Vertices
    v = _Vertices()
    for line in PLAIN_PROGRESS.splitlines():
        v.line(line)
    steps = v.steps()
    assert [(s.stage, s.instruction.split()[0], s.cached) for s in steps] == [
        ("runtime", "FROM", False), ("builder", "FROM", False), ("builder", "COPY", True),
        ("builder", "RUN", False), ("", "RUN", False)]
    assert steps[3].seconds == 0.4 and steps[3].output == "compiling"
    assert v.failing()["instruction"] == "RUN exit 3" and "exit code: 3" in v.failing()["error"]
    assert v.image_id.startswith("sha256:470d5446")
