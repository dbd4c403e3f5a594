"""Pure unit tests: no engine."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shared import ROOT

import labutils as lu
from labutils import bases, errors, names, util
from labutils.backends.live import engine
from labutils.backends.replay import recording
from labutils.docker import buildlog
from labutils.ops import runlog
from labutils.ops.build import _hint


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
    assert bases.standin_name("docker.io/library/golang:1.15.6") == bases.GOLANG
    assert bases.standin_name("alpine:latest") == bases.ALPINE
    assert bases.standin_name("node:20") is None


def test_classic_log_splits_and_times_steps():
    lines = ["Step 1/3 : FROM golang:1.15.6", " ---> abc", "Step 2/3 : COPY welcome.go .", " ---> Using cache",
             " ---> def", "Step 3/3 : RUN go build -o welcome .", " ---> Running in 123"]
    steps, failing = buildlog.classic_steps(lines, [float(t) for t in range(len(lines))], 10.0)
    assert failing["instruction"] == "RUN go build -o welcome ."
    assert [(s["number"], s["cached"], s["seconds"]) for s in steps] == [(1, False, 2.0), (2, True, 3.0),
                                                                         (3, False, 5.0)]


CLASSIC_WITH_LABEL = """Step 1/3 : FROM scratch
 ---> 
Step 2/3 : COPY welcome .
 ---> 62f5a0c81f4d
Step 3/3 : LABEL io.labutils.managed=true
 ---> Running in 1c2826a59f70
Removing intermediate container 1c2826a59f70
 ---> 9a3742ff2a97
Successfully built 9a3742ff2a97
Successfully tagged welcome-runtime:v1"""


def test_steps_are_numbered_as_the_learners_file():
    """labutils' own LABEL step is not the learner's: a two-line Dockerfile shows steps 1/2 and 2/2."""
    view = buildlog.ClassicView(labels=1)
    shown = [s for s in (view.line(t) for t in CLASSIC_WITH_LABEL.splitlines()) if s is not None]
    assert shown[0] == "Step 1/2 : FROM scratch" and shown[2] == "Step 2/2 : COPY welcome ."
    assert not any("LABEL" in s or "1c2826a59f70" in s for s in shown)
    assert shown[-2:] == ["Successfully built 9a3742ff2a97", "Successfully tagged welcome-runtime:v1"]
    lines = CLASSIC_WITH_LABEL.splitlines()
    steps, _ = buildlog.classic_steps(lines, [0.0] * len(lines), 1.0)
    assert [s["instruction"] for s in steps] == ["FROM scratch", "COPY welcome ."]


def test_colour_codes_are_stripped_from_build_output():
    assert util.strip_ansi("\x1b[91m# command-line-arguments\n\x1b[0m") == "# command-line-arguments\n"


def test_volatile_values_are_kept_apart_and_put_back():
    answer = {"id": "sha256:" + "a" * 64, "size": 1819300, "seconds": 1.25,
              "log": ["Step 1/2 : FROM scratch", " ---> Running in 1c2826a59f70", "#5 DONE 0.3s", "#6 0.312 hi",
                      "Fetched 6258 kB in 1s (7182 kB/s)"]}
    values = []
    stable = recording.split(answer, values)
    assert stable["size"] == 1819300 and stable["id"] == recording.MARK and stable["seconds"] == recording.MARK
    assert stable["log"] == ["Step 1/2 : FROM scratch", " ---> Running in " + recording.MARK,
                             "#5 DONE " + recording.MARK, "#6 " + recording.MARK + " hi",
                             "Fetched 6258 kB in " + recording.MARK + " (" + recording.MARK + ")"]
    again = []
    recording.split({**answer, "id": "sha256:" + "b" * 64, "seconds": 9.0}, again)
    assert again != values, "a new run changes only the volatile values"
    assert recording.join(stable, list(values)) == answer


def test_hints_name_the_fix():
    assert "Go compile" in _hint("The command '/bin/sh -c go build' returned a non-zero code: 1", None)
    assert ".dockerignore" in _hint("COPY failed: file not found in build context", None)
    assert "stage" in _hint("failed to reach build target nope in Dockerfile", "nope")


def test_error_message_carries_everything():
    err = errors.BuildFailed("Building x failed at step 4/5: RUN go build", command="docker build -t x .",
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
    with pytest.raises(errors.EngineUnavailable, match="docker context"):
        engine.engine_url()


def test_recorded_mode_refuses_what_needs_an_engine(monkeypatch):
    from labutils.backends import backend
    monkeypatch.setenv("LABUTILS_MODE", "recorded")
    with pytest.raises(errors.EngineUnavailable, match="recorded mode"):
        backend().import_rootfs("rootfs.tar", "x:y", [])
    monkeypatch.setenv("LABUTILS_MODE", "sideways")
    with pytest.raises(errors.SettingsError, match="not a mode"):
        engine.mode()


def test_prepare_rewrites_a_copy_with_a_parser(monkeypatch, tmp_path):
    """Beside the real-engine test: resolution is replaced so only the rewrite is tested."""
    def fake_resolve(ref, quiet=False, platform=None):
        sub = bases.standin_name(ref)
        return bases.Resolution(ref, sub, "stand-in") if sub else bases.Resolution(ref, ref, "local")
    monkeypatch.setattr(bases, "resolve", fake_resolve)
    text = ("ARG GO=golang:1.15.6\n"
            "FROM ${GO} AS builder\nRUN echo build\n"
            "FROM builder AS test\nRUN echo test\n"
            "FROM alpine:latest\nCOPY --from=builder /a /a\nCOPY --from=alpine:latest /etc/passwd /p\n"
            'COPY --chown=1:1 --from=alpine:latest ["/etc/group", "/g r"]\n')
    df = tmp_path / "Dockerfile"
    df.write_text(text)
    prepared = bases.prepare(df)
    try:
        out = prepared.path.read_text()
        assert prepared.substitutions == {"golang:1.15.6": bases.GOLANG, "alpine:latest": bases.ALPINE}
        assert f"FROM {bases.GOLANG} AS builder" in out
        assert "FROM builder AS test" in out
        assert f"FROM {bases.ALPINE}\n" in out
        assert f"COPY --from={bases.ALPINE} /etc/passwd /p" in out
        assert f'COPY --chown=1:1 --from={bases.ALPINE} ["/etc/group", "/g r"]' in out, "the JSON form too"
        assert "COPY --from=builder /a /a" in out
        assert prepared.stages == ["builder", "test", ""]
    finally:
        prepared.cleanup()
    assert df.read_text() == text
    assert not prepared.path.exists()


def test_one_reader_splits_flags_json_and_words_and_names_a_bad_line(tmp_path):
    from labutils.docker import buildcontext, dockerfile
    from labutils.grading import checks
    df = tmp_path / "Dockerfile"
    df.write_text("ARG V=1\nFROM --platform=$BUILDPLATFORM golang:1.15.6 AS build\n# a comment\n"
                  'COPY --chown=1:1 ["a b.txt", "c.txt", "/dst/"]\nCOPY --from=build /out /out\n'
                  "RUN go build \\\n  -o /out .\nFROM scratch\nCOPY --from=build /out /\n")
    read = dockerfile.read(df)
    assert [i.name for i in read.instructions] == ["ARG", "FROM", "COPY", "COPY", "RUN", "FROM", "COPY"]
    first_copy = read.instructions[2]
    assert first_copy.flags == {"chown": "1:1"} and first_copy.args == ("a b.txt", "c.txt", "/dst/")
    assert first_copy.json_form and first_copy.line == 4
    assert read.step_count == 6, "the ARG before the first FROM is no step of the classic builder"
    assert [(s.base, s.alias, s.line) for s in read.stages] == [("golang:1.15.6", "build", 2), ("scratch", "", 8)]
    assert read.stages[0].instructions[0].flag("platform") == "$BUILDPLATFORM"
    assert buildcontext.copy_sources(df) == [(4, ["a b.txt", "c.txt"])], "--from copies are not the context's"
    assert checks.read_stages(df) == read.stages
    assert dockerfile.stage_names(df) == ["build", ""]
    df.write_text('FROM scratch\nCMD ["a",\nCOPY ["a.txt", \n')
    with pytest.raises(errors.BuildFailed, match="Line 3 of Dockerfile is not a valid COPY"):
        dockerfile.read(df)
    df.write_text('FROM scratch\nCMD ["a",\n')
    assert dockerfile.read(df).instructions[1].args == ('["a",',), "CMD falls back to the shell form, as Docker does"


def test_namespace_names_and_ownership(monkeypatch):
    monkeypatch.delenv("LABUTILS_NAMESPACE", raising=False)
    assert names.ref("welcome:v1") == "welcome:v1" and names.labels() == {names.LABEL: "true"}
    assert names.mine({names.LABEL: "true"}) and not names.mine({names.LABEL: "true", names.NAMESPACE_LABEL: "bob"})
    monkeypatch.setenv("LABUTILS_NAMESPACE", "alice")
    assert names.ref("welcome:v1") == "alice/welcome:v1" == names.ref("alice/welcome:v1")
    assert names.plain("alice/welcome:v1") == "welcome:v1" and names.plain("golang:1.15.6") == "golang:1.15.6"
    assert names.labels()[names.NAMESPACE_LABEL] == "alice"
    assert names.mine({names.LABEL: "true", names.NAMESPACE_LABEL: "alice"})
    assert not names.mine({names.LABEL: "true"}) and not names.mine({names.NAMESPACE_LABEL: "alice"})
    monkeypatch.setenv("LABUTILS_NAMESPACE", "Alice Smith")
    with pytest.raises(errors.SettingsError, match="cannot prefix"):
        names.namespace()


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
    v = buildlog.Vertices()
    for line in PLAIN_PROGRESS.splitlines():
        v.line(line)
    steps = v.steps()
    assert [(s["stage"], s["instruction"].split()[0], s["cached"]) for s in steps] == [
        ("runtime", "FROM", False), ("builder", "FROM", False), ("builder", "COPY", True),
        ("builder", "RUN", False), ("", "RUN", False)]
    assert steps[3]["seconds"] == 0.4 and steps[3]["lines"] == ["compiling"]
    assert v.failing()["instruction"] == "RUN exit 3" and "exit code: 3" in v.failing()["error"]
    assert v.image_id.startswith("sha256:470d5446")


def test_settings_are_read_when_asked(monkeypatch, tmp_path):
    """The bug the settings module fixes: LABUTILS_WORK set after import moved only half the files."""
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path / "late"))
    monkeypatch.setenv("LABUTILS_MODE", "live")
    folder = lu.write_exercise("normal-build", show=False)
    assert folder == tmp_path / "late" / "normal-build" == lu.work() / "normal-build"
    assert runlog.path() == tmp_path / "late" / "results.csv" and lu.work() == tmp_path / "late"


def test_the_house_keeps_its_layers():
    """import-linter's contracts (pyproject.toml): the layer order, docker-py in the live backend only, and
    ``labutils.backends`` the one door to it."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "3 kept, 0 broken" in proc.stdout


def test_the_top_level_is_what_a_learner_calls():
    import inspect
    assert len(lu.__all__) <= 45 and len(set(lu.__all__)) == len(lu.__all__)
    for name in lu.__all__:
        assert getattr(lu, name) is not None, name
    undocumented = []
    for name in lu.__all__:
        obj = getattr(lu, name)
        if not inspect.isfunction(obj):
            continue
        params = [p for p in inspect.signature(obj).parameters.values() if p.name != "self"]
        doc = inspect.getdoc(obj) or ""
        if len(params) > 2 and not ("Args:" in doc and ("Example" in doc or ">>>" in doc or "lu." in doc)):
            undocumented.append(name)
    assert not undocumented, f"public calls of more than two parameters without Args and an example: {undocumented}"


@pytest.mark.parametrize("docker_host, override, host, loopback", [
    ("", "", "127.0.0.1", True),
    ("unix:///var/run/docker.sock", "", "127.0.0.1", True),
    ("tcp://10.1.2.3:2375", "", "10.1.2.3", False),
    ("ssh://teacher@classroom.example:22", "", "classroom.example", False),
    ("tcp://127.0.0.1:2375", "", "127.0.0.1", True),
    ("unix:///run/dind/docker.sock", "172.17.0.4", "172.17.0.4", False),
    ("tcp://10.1.2.3:2375", "192.168.5.5", "192.168.5.5", False),
])
def test_published_ports_are_reached_where_the_engine_publishes_them(monkeypatch, docker_host, override, host,
                                                                      loopback):
    from labutils.backends.live import engine
    monkeypatch.setenv("DOCKER_HOST", docker_host) if docker_host else monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("LABUTILS_HOST_OVERRIDE", override)
    assert engine.published_host() == host
    assert engine.binds_loopback() is loopback


def test_golang_alpine_tags_take_the_musl_stand_in():
    assert bases.standin_name("golang:1.15.6-alpine") == bases.GOLANG_MUSL
    assert bases.standin_name("golang:1.15.6") == bases.GOLANG
    assert bases.standin_name("alpine:3.12") == bases.ALPINE


def test_files_digest_ignores_timestamps_only(tmp_path):
    """Two layers with the same files written at different times: same files digest, different diff ids."""
    import io
    import tarfile

    from labutils.docker import archive

    def layer(mtime, mode=0o755, data=b"binary"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            d = tarfile.TarInfo("myapp"); d.type = tarfile.DIRTYPE; d.mode = 0o755; d.mtime = mtime
            tar.addfile(d)
            f = tarfile.TarInfo("myapp/welcome"); f.size = len(data); f.mode = mode; f.mtime = mtime
            tar.addfile(f, io.BytesIO(data))
        return buf.getvalue()

    def saved(name, data):
        path = tmp_path / name
        with tarfile.open(path, "w") as tar:
            for member, payload in (("layer.tar", data), ("config.json", b'{"history": []}'),
                                    ("manifest.json", b'[{"Config": "config.json", "Layers": ["layer.tar"]}]')):
                info = tarfile.TarInfo(member); info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        return archive.read_archive(path)["files_digests"][0]

    first, later = layer(1_000), layer(2_000)
    assert first != later                                     # the diff ids would differ
    assert saved("a.tar", first) == saved("b.tar", later)
    assert saved("c.tar", layer(1_000, mode=0o700)) != saved("a.tar", first)
    assert saved("d.tar", layer(1_000, data=b"other!")) != saved("a.tar", first)


def test_a_refused_classic_builder_is_told_apart_from_a_failed_step():
    refusal = {"error": "the legacy builder is not supported with this engine; use BuildKit", "log": []}
    failed_step = {"error": "The command '/bin/sh -c go build' returned a non-zero code: 2",
                   "log": ["Step 1/4 : FROM golang:1.15.6", "Step 4/4 : RUN go build"]}
    assert buildlog.refused(refusal)
    assert not buildlog.refused(failed_step)
    assert not buildlog.refused({"error": None, "log": []})


def test_label_steps_are_hidden_whether_the_engine_runs_one_or_one_per_label():
    per_label = ["Step 1/4 : FROM scratch", "Step 2/4 : COPY a .", "Step 3/4 : LABEL io.labutils.managed=true",
                 "Step 4/4 : LABEL io.labutils.ref=x:v1"]
    joined = ["Step 1/3 : FROM scratch", "Step 2/3 : COPY a .",
              "Step 3/3 : LABEL \"io.labutils.managed\"='true' \"io.labutils.ref\"='x:v1'"]
    for log in (per_label, joined):
        view = buildlog.ClassicView(labels=2, steps=2)
        assert [s for s in map(view.line, log) if s] == ["Step 1/2 : FROM scratch", "Step 2/2 : COPY a ."]


def test_the_containerd_stores_lost_snapshot_is_built_once_more_and_nothing_else_is():
    from labutils.ops.build import _lost_snapshot
    said = ('failed to solve: failed to prepare extraction snapshot "extract-695149966--t_x sha256:3c28": '
            'parent snapshot sha256:dd82 does not exist: not found')
    assert _lost_snapshot({"error": said})
    assert not _lost_snapshot({"error": "The command '/bin/sh -c go build' returned a non-zero code: 2"})
    assert not _lost_snapshot({"error": None})


def test_layers_leave_out_only_labutils_label_steps():
    from labutils.ops.images import _labutils_label_step
    assert _labutils_label_step("LABEL io.labutils.ref=welcome:v1")
    assert _labutils_label_step("/bin/sh -c #(nop)  LABEL io.labutils.managed=true")
    assert not _labutils_label_step("LABEL maintainer=me io.labutils.ref=x"), "a learner's label stays"
    assert not _labutils_label_step("LABEL maintainer=me")
    assert not _labutils_label_step("/bin/sh -c go build -o welcome .")
