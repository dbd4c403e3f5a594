"""Real-engine tests of build(): the lab's builds, both builders, bad input, layer analysis."""
from __future__ import annotations

import pytest
from shared import _need_buildkit, _to_oci, _write

import labutils as lu
from labutils import bases, errors

pytestmark = pytest.mark.engine
T = "lutest-"




# --- bad input: a clear error, nothing lost ---------------------------------

def test_exercise_403_builds_on_the_standin_and_prints_welcome(live, exercise):
    folder = exercise("multi-stage")
    before = (folder / "Dockerfile").read_bytes()
    result = lu.build(folder, T + "welcome-optimized:v1")
    assert result.tag == T + "welcome-optimized:v1"
    assert result.image_id.startswith("sha256:")
    assert [s.instruction.split()[0] for s in result.steps][:5] == ["FROM", "WORKDIR", "COPY", "RUN", "FROM"]
    timed = sum(s.seconds for s in result.steps)
    assert 0 < timed <= result.seconds + 0.01, "each step is timed, and the steps fit in the build's wall time"
    assert result.size == lu.image_size(result.tag) < 10_000_000
    assert "Successfully tagged" in result.log
    assert (folder / "Dockerfile").read_bytes() == before, "the learner's Dockerfile must not change"
    if not bases.exists("golang:1.15.6"):
        assert result.substitutions["golang:1.15.6"] == bases.GOLANG
    out = lu.run(result.tag)
    assert out.exit_code == 0 and out.stdout == "Welcome to multi-stage Docker builds\n"


def test_warm_rebuild_comes_from_cache(live, exercise):
    folder = exercise("normal-build")
    lu.build(folder, T + "welcome:v1", quiet=True)
    again = lu.build(folder, T + "welcome:v1", quiet=True)
    assert again.steps_cached >= 3           # WORKDIR, COPY, RUN
    cold = lu.build(folder, T + "welcome:v1", nocache=True, quiet=True)
    assert cold.steps_cached == 0
    assert lu.run(T + "welcome:v1").stdout.startswith("Welcome")


def test_dockerfile_syntax_error(live, tmp_path):
    folder = _write(tmp_path / "bad", Dockerfile="FROMM scratch\n")
    with pytest.raises(errors.BuildFailed) as info:
        lu.build(folder, T + "bad:syntax", quiet=True)
    assert "unknown instruction" in str(info.value).lower()
    assert "Dockerfile" in info.value.hint


def test_copy_of_a_missing_file(live, exercise):
    folder = exercise("multi-stage")
    (folder / "welcome.go").unlink()
    with pytest.raises(errors.BuildFailed) as info:
        lu.build(folder, T + "bad:copy", quiet=True)
    err = info.value
    assert err.step == 3 and err.instruction == "COPY welcome.go ."
    assert "build context" in err.hint


def test_go_compile_error_is_readable(live, exercise):
    folder = exercise("multi-stage")
    (folder / "welcome.go").write_text('package main\nimport "fmt"\nfunc main() {\n    fmt.Printn("hi")\n}\n')
    with pytest.raises(errors.BuildFailed) as info:
        lu.build(folder, T + "bad:go", quiet=True)
    text = str(info.value)
    assert "step 4/" in text and "RUN go build -o welcome ." in text
    assert "welcome.go:4" in text and "Printn" in text


def test_unknown_base_image_without_standin(live, tmp_path):
    folder = _write(tmp_path / "unknown", Dockerfile="FROM labutils-no-such-image:1\nRUN true\n")
    with pytest.raises(errors.BaseImageUnavailable) as info:
        lu.build(folder, T + "bad:base", quiet=True)
    assert "labutils-no-such-image:1" in str(info.value) and "stand-in" in info.value.hint


def test_a_copy_from_an_image_and_a_stage_from_a_stage(live, tmp_path):
    folder = _write(tmp_path / "forms", Dockerfile=(
        "FROM alpine:latest AS base\nRUN echo built > /built\n"
        "FROM base AS test\nRUN test -f /built\n"
        "FROM scratch\nCOPY --from=alpine:latest /etc/passwd /passwd\nCOPY --from=test /built /built\n"))
    had_alpine = bases.exists("alpine:latest")
    result = lu.build(folder, T + "forms:v1", quiet=True)
    # two small files on scratch: a few hundred bytes of files, a few blocks on the containerd store
    assert result.size < 20_000
    if had_alpine or bases.exists("alpine:latest"):
        assert result.substitutions == {}          # local or pulled: used as itself
    else:
        assert result.substitutions == {"alpine:latest": bases.ALPINE}


def test_buildkit_skips_the_stage_the_target_does_not_need(live, exercise):
    _need_buildkit()
    folder = exercise("multi-stage-intro")
    classic = lu.build(folder, T + "ts:classic", dockerfile="Dockerfile.test-stage", target="runtime",
                       nocache=True, quiet=True)
    kit = lu.build(folder, T + "ts:buildkit", dockerfile="Dockerfile.test-stage", target="runtime",
                   nocache=True, quiet=True, builder="buildkit")
    assert kit.builder == "buildkit" and kit.image_id.startswith("sha256:")
    assert "test stage: helloworld says Hello World" in classic.log
    assert {s.stage for s in kit.steps} == {"builder", "runtime"}, "the test stage must not run"
    assert lu.same_files(kit.tag, classic.tag) and lu.run(kit.tag).stdout == "Hello World\n"
    # the same files; the containerd store's block count may differ by how each builder lays them out
    assert kit.size == classic.size if kit.store != "containerd" else abs(kit.size - classic.size) <= 0.02 * classic.size
    assert any(s.instruction.startswith("RUN go build") and s.stage == "builder" for s in kit.steps)
    assert lu.images(kit.tag)["size_bytes"].iloc[0] == kit.size
    warm = lu.build(folder, T + "ts:buildkit", dockerfile="Dockerfile.test-stage", target="runtime",
                    quiet=True, builder="buildkit")
    assert warm.steps_cached >= 3


def test_buildkit_failure_names_the_step(live, tmp_path):
    _need_buildkit()
    (tmp_path / "Dockerfile").write_text("FROM golang:1.15.6\nRUN echo building && exit 3\n")
    with pytest.raises(errors.BuildFailed) as info:
        lu.build(tmp_path, T + "kitfail:v1", builder="buildkit", quiet=True)
    e = info.value
    assert "RUN echo building && exit 3" in e.message and "exit code: 3" in e.engine_said
    assert "RUN step failed" in e.hint
    with pytest.raises(lu.LabError, match="not a builder"):
        lu.build(tmp_path, T + "x:v1", builder="kaniko")


def test_analyze_finds_the_deleted_file_in_both_layouts(live, tmp_path):
    from labutils.ops.analyze import analyze_archive
    (tmp_path / "Dockerfile").write_text(
        "FROM alpine:latest\nRUN head -c 3000000 /dev/urandom > /big.bin\nRUN rm /big.bin\n")
    lu.build(tmp_path, T + "waste:v1", quiet=True)
    live_analysis = lu.analyze(T + "waste:v1")
    from labutils.backends.live import engine
    engine_major = int(engine.version()["Version"].split(".")[0])
    assert live_analysis.layout == ("oci" if engine_major >= 25 else "legacy")
    assert abs(live_analysis.wasted_bytes - 3_000_000) <= 30_000
    assert list(live_analysis.inefficiencies["path"]) == ["/big.bin"]
    legacy = tmp_path / "saved.tar"
    with open(legacy, "wb") as fh:
        for chunk in live.images.get(T + "waste:v1").save(named=True):
            fh.write(chunk)
    oci = tmp_path / "oci.tar"
    _to_oci(legacy, oci)
    other = analyze_archive(oci, T + "waste:v1")
    assert other.layout == "oci"
    assert (other.wasted_bytes, other.efficiency) == (live_analysis.wasted_bytes, live_analysis.efficiency)
    assert other.layers["bytes"].tolist() == live_analysis.layers["bytes"].tolist()
    with pytest.raises(errors.ImageNotFound):
        lu.analyze(T + "never-built:v1")
